package org.vmspace.bench.render;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchmarksPageTest {
  private static final String EXEC_LOOP = ResultRow.HEADER + "\n"
      + "exec-loop\twhole run (200 steps)\tms\t30000.0000\t4000.0000\t9000.0000\t3\tstep\t-\t-\t-\t-\t-\t-\n"
      + "exec-loop\tper step\tms\t148.0000\t19.5000\t44.0000\t3\tstep\t61.5000\t30.0000\t0.0000\t31.0000\t12.0000\t0.5000\n";
  private static final String FAULTS = ResultRow.HEADER + "\n"
      + "faults-per-step\tper sh-pipeline step\t\t-\t-\t-\t3\tstep\t98.0000\t51.0000\t0.0000\t46.0000\t20.0000\t1.0000\n";

  @BeforeAll
  static void headless() {
    System.setProperty("java.awt.headless", "true");
  }

  private static Path results(Path dir) throws IOException {
    Path r = Files.createDirectories(dir.resolve("results"));
    Files.writeString(r.resolve("exec-loop.tsv"), EXEC_LOOP);
    Files.writeString(r.resolve("faults-per-step.tsv"), FAULTS);
    Files.writeString(r.resolve("machine.tsv"), "where\temulated-svm\ncpu\tAMD EPYC (emulated)\ncores\t1\n"
        + "memory\t4 GiB\nkernel\t6.12.0\ndate\t2026-12-07T04:30Z\nruns\t3\nseconds.exec-loop\t400\n");
    Files.writeString(r.resolve("host.tsv"), "commit\tabc1234\nduration\t21 min 3 s\ncpu\tHost CPU\n");
    return r;
  }

  @Test
  void rendersATablePerBenchmarkWithRatiosExitsAndTheMachine(@TempDir Path dir) throws IOException {
    Path page = dir.resolve("docs/benchmarks.md");
    Files.createDirectories(page.getParent());
    BenchmarksPage.render(results(dir), page, dir.resolve("docs/benchmarks"), null);
    String md = Files.readString(page);
    assertTrue(md.contains("| per step | 148 ms | 19.50 ms | 44.00 ms | 7.59 | 2.26 | 61.5 per step | 30.0 | 0.0 | 31.0 "
        + "| 12.0 | 0.5 |"), md);
    assertTrue(md.contains("| whole run (200 steps) | 30000 ms | 4000 ms | 9000 ms | 7.50 | 2.25 |  |"), md);
    assertTrue(md.contains("| per sh-pipeline step |  |  |  |  |  | 98.0 per step | 51.0 | 0.0 | 46.0 | 20.0 | 1.0 |"), md);
    assertTrue(md.contains("| where | emulated-svm |"), md);
    assertTrue(md.contains("| commit measured | abc1234 |"), md);
    assertTrue(md.contains("| CPU | AMD EPYC (emulated) |"), md);
    assertTrue(md.contains("| time of exec-loop | 400 s |"), md);
    // Projections: 61.5 exits x 1, 3 and 35 us.
    assertTrue(md.contains("| exec-loop | per step | 61.5 per step | 62 us | 185 us | 2.2 ms |"), md);
    assertTrue(md.indexOf("## exec-loop") < md.indexOf("## faults-per-step"), "the page's order");
    assertTrue(md.contains("![exec-loop ratios](benchmarks/exec-loop-ratios.png)"), md);
    assertTrue(md.contains("![faults-per-step exits](benchmarks/faults-per-step-exits.png)"), md);
    assertFalse(md.contains("faults-per-step-ratios.png"), "an untimed benchmark has no ratio chart");

    for (String png : List.of("exec-loop-ratios.png", "exec-loop-exits.png", "faults-per-step-exits.png")) {
      Path f = dir.resolve("docs/benchmarks").resolve(png);
      assertTrue(Files.size(f) > 1000, png + " is " + Files.size(f) + " bytes");
      BufferedImage image = ImageIO.read(f.toFile());
      assertEquals(Charts.WIDTH, image.getWidth(), png);
      assertEquals(Charts.HEIGHT, image.getHeight(), png);
      assertTrue(distinctColours(image) > 4, png + " is blank");
    }
    assertFalse(Files.exists(dir.resolve("docs/benchmarks/faults-per-step-ratios.png")));
  }

  @Test
  void showsAnEarlierRunsRowsAsBefore(@TempDir Path dir) throws IOException {
    Path before = Files.createDirectories(dir.resolve("before"));
    Files.writeString(before.resolve("faults-per-step.tsv"), FAULTS.replace("98.0000", "120.0000"));
    Files.writeString(before.resolve("host.tsv"), "commit\told5678\n");
    Path page = dir.resolve("benchmarks.md");
    BenchmarksPage.render(results(dir), page, dir.resolve("charts"), before);
    String md = Files.readString(page);
    assertTrue(md.contains("| before: per sh-pipeline step |  |  |  |  |  | 120 per step |"), md);
    assertTrue(md.indexOf("before: per sh-pipeline step") < md.indexOf("\n| per sh-pipeline step |  |"), md);
    assertTrue(md.contains("on commit old5678"), md);
  }

  @Test
  void resultRowsRoundTripAndMalformedFilesAreRejected() {
    ResultRow r = new ResultRow("touch-1g", "touch 1 GiB", "ms", 1.5, 0.25, Double.NaN, 3, "GiB", 16384, 1, 0, 16383,
        2, 0);
    List<ResultRow> back = ResultRow.parse(List.of(ResultRow.HEADER, r.toTsv()));
    assertEquals(List.of(r), back);
    assertTrue(Double.isNaN(back.get(0).qemuRatio()));
    assertEquals(6.0, back.get(0).vkernelRatio());
    assertThrows(IllegalArgumentException.class, () -> ResultRow.parse(List.of("benchmark\trow")));
    assertThrows(IllegalArgumentException.class, () -> ResultRow.parse(List.of(ResultRow.HEADER, "a\tb\tms")));
    assertThrows(IllegalArgumentException.class, () -> new ResultRow("a", "b\tc", "", 0, 0, 0, 1, "", 0, 0, 0, 0, 0, 0));
  }

  @Test
  void anEmptyResultsDirectoryIsAnError(@TempDir Path dir) {
    assertThrows(IllegalArgumentException.class,
        () -> BenchmarksPage.render(dir, dir.resolve("p.md"), dir.resolve("c"), null));
  }

  private static int distinctColours(BufferedImage image) {
    java.util.Set<Integer> colours = new java.util.HashSet<>();
    for (int y = 0; y < image.getHeight(); y += 4) {
      for (int x = 0; x < image.getWidth(); x += 4) {
        colours.add(image.getRGB(x, y));
      }
    }
    return colours.size();
  }
}
