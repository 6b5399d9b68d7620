/*
 * A small Java 17 program run by Debian's OpenJDK 17 inside the vkernel (DynamicProgramsTest):
 * it prints, allocates 125 MiB (the garbage collector runs), computes on four pool threads,
 * reads a file through NIO (whose set-up makes an AF_UNIX socket pair) and catches a
 * NullPointerException (which HotSpot raises from a SIGSEGV in compiled code, or checks in the
 * interpreter). Compiled at build time by build.sh with --release 17.
 */
import java.nio.file.*;
import java.util.*;
import java.util.concurrent.*;

public class Guest17 {
  public static void main(String[] args) throws Exception {
    System.out.println("hello from java " + System.getProperty("java.specification.version"));
    List<byte[]> keep = new ArrayList<>();
    long total = 0;
    for (int i = 0; i < 2000; i++) {
      byte[] b = new byte[64 * 1024];
      b[i % b.length] = 1;
      total += b.length;
      if (i % 10 == 0) keep.add(b);
    }
    System.out.println("allocated " + (total >> 20) + " MiB, kept " + keep.size());
    ExecutorService pool = Executors.newFixedThreadPool(4);
    List<Future<Long>> fs = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      final int k = t;
      fs.add(pool.submit(() -> { long s = 0; for (int i = 0; i < 1_000_000; i++) s += i % (k + 2); return s; }));
    }
    long sum = 0;
    for (Future<Long> f : fs) sum += f.get();
    pool.shutdown();
    System.out.println("4 threads: " + sum);
    System.out.println("passwd lines > 0: " + (Files.readAllLines(Path.of("/etc/passwd")).size() > 0));
    String s = null;
    try { s.length(); } catch (NullPointerException e) { System.out.println("caught NPE"); }
  }
}
