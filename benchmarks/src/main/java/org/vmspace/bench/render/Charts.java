package org.vmspace.bench.render;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.geom.Rectangle2D;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.LineAndShapeRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.ui.RectangleAnchor;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.data.category.DefaultCategoryDataset;

/**
 * The PNG charts of {@code docs/benchmarks.md}, drawn with JFreeChart (headless AWT is enough):
 * per benchmark, the ratios to native of the vkernel and of qemu-user as bars with the issue's
 * target (the qemu-user ratio, which the vkernel should beat) marked on each row, and the
 * vkernel's exits per operation stacked by kind.
 *
 * <p>Every chart is {@link #WIDTH} x {@link #HEIGHT} pixels. Methods throw {@link IOException}
 * when the file cannot be written.
 */
public final class Charts {
  /** Width of every chart, in pixels. */
  public static final int WIDTH = 800;
  /** Height of every chart, in pixels. */
  public static final int HEIGHT = 420;
  private static final Color VKERNEL = new Color(0x1f, 0x77, 0xb4);
  private static final Color QEMU = new Color(0xff, 0x7f, 0x0e);

  private Charts() {}

  /**
   * Writes the ratio chart of {@code rows} (the timed ones with a native time) to {@code png}:
   * bars vkernel/native and qemu/native per row, a red mark at each row's qemu/native (the
   * target), a line at 1 (native).
   *
   * @return whether a chart was written (false when no row is timed)
   */
  public static boolean ratios(String title, List<ResultRow> rows, Path png) throws IOException {
    DefaultCategoryDataset bars = new DefaultCategoryDataset();
    DefaultCategoryDataset target = new DefaultCategoryDataset();
    for (ResultRow r : rows) {
      if (!r.timed()) {
        continue;
      }
      bars.addValue(r.vkernelRatio(), "vkernel / native", r.row());
      if (!Double.isNaN(r.qemu())) {
        bars.addValue(r.qemuRatio(), "qemu-user / native", r.row());
        target.addValue(r.qemuRatio(), "target: beat qemu-user", r.row());
      }
    }
    if (bars.getColumnCount() == 0) {
      return false;
    }
    JFreeChart chart = ChartFactory.createBarChart(title, null, "time / native time", bars,
        PlotOrientation.VERTICAL, true, false, false);
    CategoryPlot plot = styled(chart);
    BarRenderer renderer = (BarRenderer) plot.getRenderer();
    renderer.setSeriesPaint(0, VKERNEL);
    renderer.setSeriesPaint(1, QEMU);
    // Both ratios as bars, the target as a wide flat mark across each row's pair of bars: one
    // horizontal line per row, since the qemu-user ratio differs from row to row.
    LineAndShapeRenderer marks = new LineAndShapeRenderer(false, true);
    // As wide as a row's pair of bars: the plot is about WIDTH - 100 pixels, 80 % of it bars.
    double mark = Math.min(200, 0.8 * (WIDTH - 100) / bars.getColumnCount());
    marks.setSeriesShape(0, new Rectangle2D.Double(-mark / 2, -1.5, mark, 3));
    marks.setSeriesPaint(0, Color.RED);
    if (bars.getColumnCount() == 1 && target.getColumnCount() == 1) {
      // One row: the target is a line across the whole plot.
      ValueMarker line = new ValueMarker(target.getValue(0, 0).doubleValue(), Color.RED, new BasicStroke(3f));
      line.setLabel("target: qemu-user's ratio");
      line.setLabelAnchor(RectangleAnchor.TOP_RIGHT);
      line.setLabelTextAnchor(TextAnchor.BOTTOM_RIGHT);
      plot.addRangeMarker(line);
    }
    plot.setDataset(1, target);
    plot.setRenderer(1, marks);
    ValueMarker nativeLine = new ValueMarker(1.0, Color.DARK_GRAY, new BasicStroke(1f));
    nativeLine.setLabel("native = 1");
    nativeLine.setLabelAnchor(RectangleAnchor.TOP_LEFT);
    nativeLine.setLabelTextAnchor(TextAnchor.BOTTOM_LEFT);
    plot.addRangeMarker(nativeLine);
    ChartUtils.saveChartAsPNG(png.toFile(), chart, WIDTH, HEIGHT);
    return true;
  }

  /**
   * Writes the exits-per-operation chart of {@code rows} (those with exit counts) to {@code
   * png}: one stacked bar per row, by kind.
   *
   * @return whether a chart was written (false when no row has exit counts)
   */
  public static boolean exits(String title, List<ResultRow> rows, Path png) throws IOException {
    DefaultCategoryDataset data = new DefaultCategoryDataset();
    for (ResultRow r : rows) {
      if (!r.counted()) {
        continue;
      }
      String column = r.per().isEmpty() || r.row().contains("per ") ? r.row() : r.row() + " (per " + r.per() + ")";
      data.addValue(r.syscalls(), "system calls", column);
      data.addValue(r.pageFaults(), "page faults to the kernel", column);
      data.addValue(r.demandFaults(), "demand faults in the service", column);
      data.addValue(r.other(), "other exits", column);
      data.addValue(r.revocations(), "revocation batches", column);
    }
    if (data.getColumnCount() == 0) {
      return false;
    }
    JFreeChart chart = ChartFactory.createStackedBarChart(title, null, "exits (and revocation batches) per operation", data,
        PlotOrientation.VERTICAL, true, false, false);
    styled(chart);
    ChartUtils.saveChartAsPNG(png.toFile(), chart, WIDTH, HEIGHT);
    return true;
  }

  private static CategoryPlot styled(JFreeChart chart) {
    chart.setBackgroundPaint(Color.WHITE);
    CategoryPlot plot = chart.getCategoryPlot();
    plot.setBackgroundPaint(Color.WHITE);
    plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
    plot.getDomainAxis().setMaximumCategoryLabelLines(3);
    if (plot.getRenderer() instanceof BarRenderer bar) {
      bar.setBarPainter(new StandardBarPainter());
      bar.setShadowVisible(false);
      bar.setItemMargin(0.05);
    }
    return plot;
  }
}
