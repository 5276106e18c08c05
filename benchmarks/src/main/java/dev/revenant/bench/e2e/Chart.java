package dev.revenant.bench.e2e;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import javax.imageio.ImageIO;

/**
 * Draws the PNG next to an end-to-end report: one row of panels per demo app, throughput per
 * configuration on the left (bar labels give the ratio against no agent), p50 and p99 latency on
 * the right. Reads the tab-separated medians {@code report.py --chart-data} writes. JDK only (AWT,
 * headless), so that the chart needs nothing the machine lacks.
 *
 * <pre>
 * java -Djava.awt.headless=true -cp classes dev.revenant.bench.e2e.Chart medians.tsv out.png [title]
 * </pre>
 */
public final class Chart {
    private static final Color[] CONFIG_COLOURS = {new Color(0x8c8c8c), new Color(0x6fa8dc), new Color(0xe69138)};
    private static final int PANEL_W = 460;
    private static final int PANEL_H = 230;
    private static final int MARGIN = 60;

    record Row(String app, String config, double throughput, double p50, double p99, double ratio) {}

    private Chart() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 2) {
            System.err.println("usage: Chart medians.tsv out.png [title]");
            System.exit(2);
        }
        List<Row> rows = read(Path.of(args[0]));
        if (rows.isEmpty()) {
            System.err.println("Chart: no rows in " + args[0]);
            System.exit(1);
        }
        String title = args.length > 2 ? args[2] : "End to end";
        ImageIO.write(draw(rows, title), "png", Path.of(args[1]).toFile());
    }

    static List<Row> read(Path tsv) throws IOException {
        List<Row> rows = new ArrayList<>();
        List<String> lines = Files.readAllLines(tsv, StandardCharsets.UTF_8);
        for (String line : lines.subList(Math.min(1, lines.size()), lines.size())) {
            String[] f = line.split("\t", -1);
            if (f.length < 6) {
                continue;
            }
            rows.add(new Row(f[0], f[1], num(f[2]), num(f[3]), num(f[4]), num(f[5])));
        }
        return rows;
    }

    private static double num(String s) {
        return s.isEmpty() ? Double.NaN : Double.parseDouble(s);
    }

    static BufferedImage draw(List<Row> rows, String title) {
        Map<String, List<Row>> byApp = new LinkedHashMap<>();
        for (Row r : rows) {
            byApp.computeIfAbsent(r.app, k -> new ArrayList<>()).add(r);
        }
        int width = 2 * PANEL_W + 3 * MARGIN / 2;
        int height = 50 + byApp.size() * (PANEL_H + MARGIN + 20) + 40;
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        g.drawString(title, MARGIN / 2, 28);
        int y = 50;
        for (Map.Entry<String, List<Row>> e : byApp.entrySet()) {
            List<Row> app = e.getValue();
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
            g.setColor(Color.BLACK);
            g.drawString(e.getKey(), MARGIN / 2, y + 14);
            int top = y + 30;
            List<double[]> thr = new ArrayList<>();
            List<String> labels = new ArrayList<>();
            List<String> notes = new ArrayList<>();
            for (Row r : app) {
                thr.add(new double[] {r.throughput});
                labels.add(shortName(r.config));
                notes.add(Double.isNaN(r.ratio) ? "" : String.format(Locale.ROOT, "%.2f×", r.ratio));
            }
            bars(g, MARGIN, top, "throughput (req/s)", labels, thr, notes, new String[] {"median"});
            List<double[]> lat = new ArrayList<>();
            List<String> none = new ArrayList<>();
            for (Row r : app) {
                lat.add(new double[] {r.p50, r.p99});
                none.add("");
            }
            bars(g, MARGIN + PANEL_W + MARGIN / 2, top, "latency (µs)", labels, lat, none, new String[] {"p50", "p99"});
            y = top + PANEL_H + MARGIN - 10;
        }
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        g.setColor(Color.DARK_GRAY);
        g.drawString("Medians of interleaved repetitions; labels over throughput bars: ratio against no agent in the same"
            + " repetitions.", MARGIN / 2, height - 16);
        g.dispose();
        return img;
    }

    private static String shortName(String config) {
        return config.replace("agent, ", "");
    }

    /** One panel: groups of bars (one group per configuration, one bar per series), a y axis from 0. */
    private static void bars(Graphics2D g, int x0, int y0, String yLabel, List<String> groups, List<double[]> values,
                             List<String> notes, String[] series) {
        double max = 0;
        for (double[] v : values) {
            for (double d : v) {
                if (!Double.isNaN(d)) {
                    max = Math.max(max, d);
                }
            }
        }
        double step = niceStep(max / 4);
        double top = Math.max(step, Math.ceil(max * 1.08 / step) * step); // room for the labels over the bars
        int w = PANEL_W - 40;
        int h = PANEL_H - 40;
        int left = x0 + 40;
        int bottom = y0 + h;
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
        FontMetrics fm = g.getFontMetrics();
        for (double t = 0; t <= top + step / 2; t += step) {
            int yy = bottom - (int) Math.round(t / top * h);
            g.setColor(new Color(0xe0e0e0));
            g.drawLine(left, yy, left + w, yy);
            g.setColor(Color.DARK_GRAY);
            String s = axis(t);
            g.drawString(s, left - 6 - fm.stringWidth(s), yy + 4);
        }
        g.setColor(Color.BLACK);
        g.setStroke(new BasicStroke(1f));
        g.drawLine(left, bottom, left + w, bottom);
        g.drawLine(left, y0, left, bottom);
        g.drawString(yLabel, left, y0 - 6);
        int groupW = w / Math.max(1, groups.size());
        int barW = Math.max(6, (groupW - 20) / series.length);
        for (int i = 0; i < groups.size(); i++) {
            int gx = left + i * groupW + 10;
            double[] v = values.get(i);
            for (int k = 0; k < v.length; k++) {
                if (Double.isNaN(v[k])) {
                    continue;
                }
                int bh = (int) Math.round(v[k] / top * h);
                Color c = series.length == 1 ? CONFIG_COLOURS[i % CONFIG_COLOURS.length]
                    : k == 0 ? new Color(0x6fa8dc) : new Color(0x3d6e9e);
                g.setColor(c);
                g.fillRect(gx + k * barW, bottom - bh, barW - 2, bh);
                g.setColor(Color.BLACK);
                String s = series.length == 1 ? notes.get(i) : series[k];
                if (!s.isEmpty()) {
                    g.drawString(s, gx + k * barW + (barW - 2 - fm.stringWidth(s)) / 2, bottom - bh - 3);
                }
            }
            String label = groups.get(i);
            g.setColor(Color.BLACK);
            g.drawString(label, left + i * groupW + (groupW - fm.stringWidth(label)) / 2, bottom + 14);
        }
    }

    private static double niceStep(double raw) {
        if (raw <= 0) {
            return 1;
        }
        double p = Math.pow(10, Math.floor(Math.log10(raw)));
        double f = raw / p;
        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
    }

    private static String axis(double v) {
        if (v >= 1000) {
            String k = String.format(Locale.ROOT, "%.1f", v / 1000);
            return (k.endsWith(".0") ? k.substring(0, k.length() - 2) : k) + "k";
        }
        return String.format(Locale.ROOT, "%.0f", v);
    }
}
