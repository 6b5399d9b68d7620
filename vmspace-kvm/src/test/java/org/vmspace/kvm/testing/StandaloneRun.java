package org.vmspace.kvm.testing;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.platform.engine.DiscoverySelector;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.support.descriptor.MethodSource;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * Runs test classes without Maven: {@code java -cp <test class path> StandaloneRun Class...}.
 * scripts/svm-tests uses it inside the emulated SVM machine, where a Maven build would take too
 * long. Prints one line per test and a summary; exits 0 only if every test passed, none was
 * skipped or aborted (an assumption that failed), and every class named ran at least one (a
 * suite that silently ran nothing must not pass), 1 otherwise.
 *
 * <p>A test that runs longer than {@code -Dvmspace.testTimeout=SECONDS} (default 180) is a
 * hang: every thread's stack is printed and the JVM halts with status 1, so that the report
 * says where it hung instead of the machine's time limit saying only that it did.
 */
public final class StandaloneRun {
  private StandaloneRun() {}

  public static void main(String[] args) throws ClassNotFoundException {
    if (args.length == 0) {
      System.err.println("usage: StandaloneRun TEST_CLASS...");
      System.exit(2);
    }
    List<DiscoverySelector> selectors = new ArrayList<>();
    Map<String, Integer> passedPerClass = new ConcurrentHashMap<>();
    for (String name : args) {
      // Names are relative to org.vmspace.kvm unless fully qualified.
      Class<?> test = Class.forName(name.startsWith("org.") ? name : "org.vmspace.kvm." + name);
      selectors.add(selectClass(test));
      passedPerClass.put(test.getName(), 0);
    }
    LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request().selectors(selectors).build();
    Launcher launcher = LauncherFactory.create();
    SummaryGeneratingListener summary = new SummaryGeneratingListener();
    Map<TestIdentifier, Long> running = new ConcurrentHashMap<>();
    startWatchdog(running, Long.getLong("vmspace.testTimeout", 180) * 1_000_000_000L);
    TestExecutionListener lines = new TestExecutionListener() {
      private final Map<TestIdentifier, Long> started = new ConcurrentHashMap<>();

      @Override
      public void executionStarted(TestIdentifier id) {
        started.put(id, System.nanoTime());
        if (id.isTest()) {
          running.put(id, System.nanoTime());
        }
      }

      @Override
      public void executionFinished(TestIdentifier id, TestExecutionResult result) {
        running.remove(id);
        if (!id.isTest()) {
          return;
        }
        if (result.getStatus() == TestExecutionResult.Status.SUCCESSFUL) {
          passedPerClass.merge(testClass(id), 1, Integer::sum);
        }
        long ms = (System.nanoTime() - started.getOrDefault(id, System.nanoTime())) / 1_000_000;
        System.out.printf("%-7s %s %s (%d ms)%n", result.getStatus(), className(id), id.getDisplayName(), ms);
        result.getThrowable().ifPresent(t -> System.out.println("        " + t.toString().replace("\n", "\n        ")));
        System.out.flush();
      }
    };
    launcher.execute(request, summary, lines);
    TestExecutionSummary s = summary.getSummary();
    s.printTo(new PrintWriter(System.out, true));
    s.printFailuresTo(new PrintWriter(System.out, true), 30);
    passedPerClass.forEach((name, passed) -> {
      if (passed == 0) {
        System.out.println("NO TEST PASSED in " + name);
      }
    });
    boolean ok = s.getTotalFailureCount() == 0
        && s.getTestsAbortedCount() == 0
        && s.getTestsSkippedCount() == 0
        && passedPerClass.values().stream().allMatch(n -> n > 0);
    System.out.println(ok ? "STANDALONE-RUN: PASSED" : "STANDALONE-RUN: FAILED");
    System.exit(ok ? 0 : 1);
  }

  /** The class that declares a test method. */
  private static String testClass(TestIdentifier id) {
    return id.getSource()
        .filter(MethodSource.class::isInstance)
        .map(source -> ((MethodSource) source).getClassName())
        .orElse("");
  }

  /** The simple name of the class that declares a test method, for the report. */
  private static String className(TestIdentifier id) {
    String name = testClass(id);
    return name.substring(name.lastIndexOf('.') + 1);
  }

  private static void startWatchdog(Map<TestIdentifier, Long> running, long limitNanos) {
    Thread watchdog = new Thread(() -> {
      while (true) {
        try {
          Thread.sleep(1000);
        } catch (InterruptedException e) {
          return;
        }
        long now = System.nanoTime();
        for (Map.Entry<TestIdentifier, Long> e : running.entrySet()) {
          if (now - e.getValue() > limitNanos) {
            System.out.printf("TIMEOUT %s %s after %d s; threads:%n",
                className(e.getKey()), e.getKey().getDisplayName(), limitNanos / 1_000_000_000L);
            Thread.getAllStackTraces().forEach((t, stack) -> {
              System.out.println("  \"" + t.getName() + "\" " + t.getState());
              for (StackTraceElement frame : stack) {
                System.out.println("      at " + frame);
              }
            });
            System.out.println("STANDALONE-RUN: FAILED");
            System.out.flush();
            // halt, not exit: the hung thread may sit in an ioctl that shutdown hooks would wait for.
            Runtime.getRuntime().halt(1);
          }
        }
      }
    }, "standalone-run-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
  }
}
