package dev.revenant.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import dev.revenant.log.LogWriter;
import dev.revenant.log.RecordTypes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code diagram} writes, without a browser (DiagramIT renders the pages): the log's bytes
 * cannot end the data elements early, {@code --from}/{@code --to} narrow what is drawn, and the
 * template keeps the markers the command splits it at.
 */
class DiagramCommandTest {
    @TempDir
    Path tmp;

    static String[] run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = RevenantCli.run(new PrintWriter(out), new PrintWriter(err), args);
        return new String[] {Integer.toString(exit), out.toString(), err.toString()};
    }

    @Test
    void recordedTextCannotCloseTheDataElements() throws Exception {
        Path log = tmp.resolve("log");
        try (LogWriter w = LogWriter.open(log)) {
            w.append(RecordTypes.NOTE, 1, 0, "</script><!--<script>alert(1)</script>".getBytes(StandardCharsets.UTF_8));
            long p = w.append(RecordTypes.NOTE, 2, 0, "plain".getBytes(StandardCharsets.UTF_8));
            w.awaitStable(p);
        }
        Path page = tmp.resolve("page.html");
        String[] r = run("diagram", "--log", log.toString(), "-o", page.toString());
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        assertThat(r[1]).contains("diagram of 3 event(s) on 3 lane(s) from 1 log(s) written to " + page);
        String html = Files.readString(page);
        String template = String.join("", DiagramCommand.template());
        assertThat(count(html, "</script")).isEqualTo(count(template, "</script"));
        assertThat(count(html, "<!--")).isEqualTo(count(template, "<!--"));
        assertThat(html).contains("\\u003c/script>\\u003c!--\\u003cscript>alert(1)\\u003c/script>");
    }

    @Test
    void fromAndToNarrowTheEventsDrawn() throws Exception {
        Path log = tmp.resolve("log");
        try (LogWriter w = LogWriter.open(log)) {
            long p = -1;
            for (int i = 0; i < 20; i++) {
                p = w.append(RecordTypes.NOTE, 1 + i % 2, i / 2, ("n" + i).getBytes(StandardCharsets.UTF_8));
            }
            w.awaitStable(p);
        }
        Path page = tmp.resolve("page.html");
        String[] r = run("diagram", "--log", log.toString(), "-o", page.toString(), "--from", "5", "--to", "9", "--json");
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        assertThat(r[1]).contains("\"totalEvents\":5").contains("\"eventCounts\":{\"NOTE\":5}")
                .contains("\"records\":21,\"drawn\":5");

        String[] bad = run("diagram", "--log", log.toString(), "-o", page.toString(), "--from", "9", "--to", "5");
        assertThat(bad[0]).isEqualTo("2");
        assertThat(bad[2]).contains("--from 9 is after --to 5");
    }

    @Test
    void theTemplateHasItsMarkersInOrder() throws Exception {
        String[] parts = DiagramCommand.template();
        assertThat(parts).hasSize(3);
        assertThat(parts[0]).contains(DiagramCommand.TITLE_MARK).endsWith("id=\"revenant-events\">");
        assertThat(parts[1]).endsWith("id=\"revenant-meta\">");
        assertThat(parts[2]).contains("revenant-report").doesNotContain(DiagramCommand.EVENTS_MARK);
    }

    private static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }
}
