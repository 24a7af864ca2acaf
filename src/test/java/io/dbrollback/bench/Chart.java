package io.dbrollback.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import javax.imageio.ImageIO;

/**
 * The throughput chart, drawn with Java2D: MB/s of the limit, the floor, ours and the agent writer per tail
 * size (the median runs), and the reader's memory.
 */
final class Chart {

    private static final Color OURS = new Color(0x1f77b4);
    private static final Color LIMIT = new Color(0xaaaaaa);
    private static final Color FLOOR = new Color(0x666666);
    private static final Color AGENT = new Color(0xff7f0e);
    private static final Color HEAP = new Color(0xd62728);
    private static final Color RSS = new Color(0x2ca02c);

    static void throughput(JsonNode throughput, JsonNode machine, Path file) throws IOException {
        System.setProperty("java.awt.headless", "true");
        int w = 1000;
        int h = 560;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        g.drawString("Divergent tail: operator transport vs bare gRPC + fsync (MB/s of canonical tail bytes)", 20, 28);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        g.drawString(machine.get("cpus").asInt() + " CPUs, " + machine.get("cpuModel").asText() + ", "
                + machine.get("jvm").asText() + "; reader JVM -Xmx" + throughput.get("childXmx").asText(), 20, 46);

        JsonNode sizes = throughput.get("sizes");
        int n = sizes.size();
        // Left panel: throughput bars.
        int x0 = 70;
        int y0 = 490;
        int pw = 520;
        int ph = 340;
        String[] sides = {"limit", "floor", "ours", "agentWriter"};
        Color[] colors = {LIMIT, FLOOR, OURS, AGENT};
        double max = 1;
        for (JsonNode s : sizes) {
            for (String side : sides) {
                if (s.has(side)) {
                    max = Math.max(max, s.get(side).get("mbPerSecond").asDouble());
                }
            }
        }
        max = niceCeil(max);
        axes(g, x0, y0, pw, ph, max, "MB/s");
        int group = pw / Math.max(1, n);
        int gap = 4;
        int bar = Math.min(34, (group - 16) / sides.length - gap);
        for (int i = 0; i < n; i++) {
            JsonNode s = sizes.get(i);
            int gx = x0 + i * group + (group - sides.length * (bar + gap)) / 2;
            for (int k = 0; k < sides.length; k++) {
                if (s.has(sides[k])) {
                    double v = s.get(sides[k]).get("mbPerSecond").asDouble();
                    barAt(g, gx + k * (bar + gap), y0, bar, (int) (ph * v / max), colors[k], String.format("%.0f", v));
                }
            }
            g.setColor(Color.BLACK);
            int mid = gx + sides.length * (bar + gap) / 2;
            String label = records(s.get("records").asLong());
            g.drawString(label, mid - g.getFontMetrics().stringWidth(label) / 2, y0 + 16);
            String ratio = String.format("ours/limit %.2f", s.get("ratio").asDouble());
            g.drawString(ratio, mid - g.getFontMetrics().stringWidth(ratio) / 2, y0 + 30);
            if (s.has("floorRatio")) {
                String floor = String.format("floor/limit %.2f", s.get("floorRatio").asDouble());
                g.drawString(floor, mid - g.getFontMetrics().stringWidth(floor) / 2, y0 + 44);
            }
        }
        legend(g, x0 + 10, 70, colors, new String[] {"limit: bare gRPC client, raw bytes, fsync",
                "floor: limit + the file's size, digests and read-back, no formatting",
                "ours: GrpcTailStream + TailValidator + exec file store + verify",
                "agent writer: the same, the file written by the node's agent"});

        // Right panel: reader memory.
        int mx0 = 680;
        int mpw = 280;
        double mmax = 1;
        for (JsonNode s : sizes) {
            mmax = Math.max(mmax, Math.max(s.get("ours").get("peakHeapUsedBytes").asDouble(),
                    s.get("ours").get("vmHwmBytes").asDouble()) / (1 << 20));
        }
        mmax = niceCeil(mmax);
        axes(g, mx0, y0, mpw, ph, mmax, "MiB");
        int step = n > 1 ? mpw / (n - 1) : 0;
        line(g, sizes, "peakHeapUsedBytes", mx0, y0, ph, mmax, step, HEAP);
        line(g, sizes, "maxHeapAfterGcBytes", mx0, y0, ph, mmax, step, HEAP.darker().darker());
        line(g, sizes, "vmHwmBytes", mx0, y0, ph, mmax, step, RSS);
        g.setColor(Color.BLACK);
        for (int i = 0; i < n; i++) {
            String label = records(sizes.get(i).get("records").asLong());
            g.drawString(label, mx0 + i * step - g.getFontMetrics().stringWidth(label) / 2, y0 + 16);
        }
        legend(g, mx0 + 10, 70, new Color[] {RSS, HEAP, HEAP.darker().darker()},
                new String[] {"reader RSS (VmHWM)", "reader heap peak (pools)", "reader heap after GC (max)"});
        g.dispose();
        ImageIO.write(img, "png", file.toFile());
    }

    private static void line(Graphics2D g, JsonNode sizes, String field, int x0, int y0, int ph, double max, int step,
            Color c) {
        g.setColor(c);
        g.setStroke(new BasicStroke(2.5f));
        int px = -1;
        int py = -1;
        for (int i = 0; i < sizes.size(); i++) {
            double v = sizes.get(i).get("ours").get(field).asDouble() / (1 << 20);
            int x = x0 + i * step;
            int y = y0 - (int) (ph * v / max);
            g.fillOval(x - 4, y - 4, 8, 8);
            g.drawString(String.format("%.0f", v), x + 6, y - 4);
            if (px >= 0) {
                g.drawLine(px, py, x, y);
            }
            px = x;
            py = y;
        }
        g.setStroke(new BasicStroke(1f));
    }

    private static void axes(Graphics2D g, int x0, int y0, int pw, int ph, double max, String unit) {
        g.setColor(new Color(0xeeeeee));
        for (int i = 1; i <= 5; i++) {
            int y = y0 - ph * i / 5;
            g.drawLine(x0, y, x0 + pw, y);
        }
        g.setColor(Color.BLACK);
        g.drawLine(x0, y0, x0 + pw, y0);
        g.drawLine(x0, y0, x0, y0 - ph);
        for (int i = 0; i <= 5; i++) {
            int y = y0 - ph * i / 5;
            String t = String.format("%.0f", max * i / 5);
            g.drawString(t, x0 - 8 - g.getFontMetrics().stringWidth(t), y + 4);
        }
        g.drawString(unit, x0 - 40, y0 - ph - 10);
    }

    private static void barAt(Graphics2D g, int x, int y0, int bw, int bh, Color c, String label) {
        g.setColor(c);
        g.fillRect(x, y0 - bh, bw, bh);
        g.setColor(Color.BLACK);
        g.drawString(label, x + (bw - g.getFontMetrics().stringWidth(label)) / 2, y0 - bh - 4);
    }

    private static void legend(Graphics2D g, int x, int y, Color[] colors, String[] labels) {
        for (int i = 0; i < colors.length; i++) {
            g.setColor(colors[i]);
            g.fillRect(x, y + i * 16, 12, 10);
            g.setColor(Color.BLACK);
            g.drawString(labels[i], x + 18, y + i * 16 + 10);
        }
    }

    private static String records(long n) {
        return n >= 1_000_000 ? (n / 1_000_000) + "M records" : (n / 1000) + "k records";
    }

    private static double niceCeil(double v) {
        double p = Math.pow(10, Math.floor(Math.log10(v)));
        for (double m : new double[] {1, 2, 2.5, 5, 10}) {
            if (m * p >= v) {
                return m * p;
            }
        }
        return 10 * p;
    }
}
