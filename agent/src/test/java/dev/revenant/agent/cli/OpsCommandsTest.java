package dev.revenant.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.revenant.bridge.Hooks;
import dev.revenant.bridge.NetHooks;
import dev.revenant.log.LogRecord;
import dev.revenant.log.LogSegments;
import dev.revenant.log.LogOptions;
import dev.revenant.log.LogWriter;
import dev.revenant.log.RecordTypes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The pieces of the operator commands that do not need a recorded app: payload decoding on
 * hand-built payloads (the layouts NetCodec documents), CSV quoting, what diff counts as the same,
 * and tail -f and stats on logs written here with small segments, so they roll.
 */
class OpsCommandsTest {
    @TempDir
    Path tmp;

    static ByteBuffer payload(int kind, int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN).put((byte) kind);
    }

    static LogRecord rec(int type, byte[] payload) {
        return new LogRecord(7, type, 0, 0, 1, 3, payload);
    }

    static byte[] bytes(ByteBuffer b) {
        return java.util.Arrays.copyOf(b.array(), b.position());
    }

    static void ipv4(ByteBuffer b, int port) {
        b.put((byte) 4).put(new byte[] {127, 0, 0, 1}).putShort((short) port);
    }

    @Test
    void decodesSocketDeterminants() {
        ByteBuffer bind = payload(NetHooks.BIND, 32).putLong(0).put((byte) 0);
        ipv4(bind, 7000);
        Decoded d = Decoded.of(rec(RecordTypes.SOCKET_ACCEPT, bytes(bind)));
        assertThat(d.conn).isZero();
        assertThat(d.address).isEqualTo("127.0.0.1:7000");
        assertThat(d.summary).isEqualTo("bind conn 0 to /127.0.0.1:7000");
        assertThat(d.names(0)).isTrue();

        ByteBuffer accept = payload(NetHooks.ACCEPT, 64).putLong(0).putLong(3);
        ipv4(accept, 50000);
        ipv4(accept, 7000);
        d = Decoded.of(rec(RecordTypes.SOCKET_ACCEPT, bytes(accept)));
        assertThat(d.serverConn).isZero();
        assertThat(d.conn).isEqualTo(3);
        assertThat(d.address).isEqualTo("127.0.0.1:50000");
        assertThat(d.localAddress).isEqualTo("127.0.0.1:7000");
        assertThat(d.names(0)).isTrue();
        assertThat(d.names(3)).isTrue();
        assertThat(d.names(4)).isFalse();

        d = Decoded.of(rec(RecordTypes.SOCKET_ACCEPT, bytes(payload(NetHooks.ACCEPT, 17).putLong(0).putLong(-1))));
        assertThat(d.conn).isEqualTo(Decoded.NONE);
        assertThat(d.address).isNull();
        assertThat(d.error).isNull();

        ByteBuffer read = payload(NetHooks.READ, 18).putLong(3).putInt(5).put("hello".getBytes(StandardCharsets.UTF_8));
        d = Decoded.of(rec(RecordTypes.SOCKET_READ, bytes(read)));
        assertThat(d.conn).isEqualTo(3);
        assertThat(d.count).isEqualTo(5);
        assertThat(d.data).asString(StandardCharsets.UTF_8).isEqualTo("hello");
        assertThat(d.summary).isEqualTo("read conn 3: 5 bytes \"hello\"");

        d = Decoded.of(rec(RecordTypes.SOCKET_READ, bytes(payload(NetHooks.READ, 13).putLong(3).putInt(-1))));
        assertThat(d.count).isEqualTo(-1);
        assertThat(d.data).isNull();

        ByteBuffer failed = payload(NetHooks.READ, 40).putLong(3).putInt(-2).put("reset".getBytes(StandardCharsets.UTF_8));
        d = Decoded.of(rec(RecordTypes.SOCKET_READ, bytes(failed)));
        assertThat(d.error).isEqualTo("reset");

        d = Decoded.of(rec(RecordTypes.SOCKET_WRITE, bytes(payload(NetHooks.WRITE, 25).putLong(3).putLong(7).putLong(2))));
        assertThat(d.conn).isEqualTo(3);
        assertThat(d.ordinal).isEqualTo(7);
        assertThat(d.count).isEqualTo(2);

        ByteBuffer select = payload(NetHooks.SELECT, 37).putInt(2).putLong(3).putInt(9).putInt(1).putLong(-1).putInt(5)
                .putInt(1);
        d = Decoded.of(rec(RecordTypes.SELECT, bytes(select)));
        assertThat(d.count).isEqualTo(2);
        assertThat(d.readyText()).isEqualTo("conn3:0x1 wakeup:0x1");
        assertThat(d.names(3)).isTrue();
        assertThat(d.names(1)).as("the wake-up descriptor is no connection").isFalse();
    }

    @Test
    void decodesValuesAndKeepsWhatDoesNotParse() {
        ByteBuffer clock = payload(Hooks.CURRENT_MILLIS, 9).putLong(1234);
        Decoded d = Decoded.of(rec(RecordTypes.CLOCK, bytes(clock)));
        assertThat(d.kind).isEqualTo("System.currentTimeMillis");
        assertThat(d.value).isEqualTo(1234);
        assertThat(d.value2).isNull();

        d = Decoded.of(rec(RecordTypes.CLOCK, bytes(payload(Hooks.INSTANT, 17).putLong(5).putLong(6))));
        assertThat(d.value).isEqualTo(5);
        assertThat(d.value2).isEqualTo(6);

        d = Decoded.of(rec(RecordTypes.RANDOM, bytes(payload(Hooks.SECURE_RANDOM_BYTES, 4).put(new byte[] {1, 2, 3}))));
        assertThat(d.data).containsExactly(1, 2, 3);

        byte[] cut = bytes(payload(NetHooks.READ, 5).putInt(3)); // the conn is cut short
        d = Decoded.of(rec(RecordTypes.SOCKET_READ, cut));
        assertThat(d.error).contains("does not parse");
        assertThat(d.data).isEqualTo(cut);

        d = Decoded.of(rec(RecordTypes.NOTE, "a\\b\n\u0001".getBytes(StandardCharsets.ISO_8859_1)));
        assertThat(d.kind).isNull();
        assertThat(d.summary).isEqualTo("a\\\\b\\n\\x01");
    }

    @Test
    void csvQuotesOnlyWhatNeedsIt() {
        assertThat(ExportCommand.csvField(null)).isEmpty();
        assertThat(ExportCommand.csvField("plain")).isEqualTo("plain");
        assertThat(ExportCommand.csvField("a,b")).isEqualTo("\"a,b\"");
        assertThat(ExportCommand.csvField("say \"hi\"")).isEqualTo("\"say \"\"hi\"\"\"");
        assertThat(ExportCommand.CSV_HEADER.split(",")).hasSize(20);
        ByteBuffer read = payload(NetHooks.READ, 16).putLong(1).putInt(3).put("a,b".getBytes(StandardCharsets.UTF_8));
        String line = ExportCommand.csv(rec(RecordTypes.SOCKET_READ, bytes(read)));
        assertThat(line).startsWith("7,SOCKET_READ,0,1,3,16,socket read,1,,3,").contains(",\"a,b\",YSxi,");
        assertThat(ExportCommand.json(rec(RecordTypes.SOCKET_READ, bytes(read))))
                .contains("\"conn\":1,\"count\":3").contains("\"text\":\"a,b\",\"base64\":\"YSxi\"");
    }

    @Test
    void diffIgnoresDescriptorNumbersOfKnownConnections() {
        ByteBuffer a = payload(NetHooks.SELECT, 21).putInt(1).putLong(3).putInt(9).putInt(1);
        ByteBuffer b = payload(NetHooks.SELECT, 21).putInt(1).putLong(3).putInt(11).putInt(1);
        ByteBuffer c = payload(NetHooks.SELECT, 21).putInt(1).putLong(3).putInt(9).putInt(4);
        ByteBuffer u1 = payload(NetHooks.SELECT, 21).putInt(1).putLong(-2).putInt(9).putInt(1);
        ByteBuffer u2 = payload(NetHooks.SELECT, 21).putInt(1).putLong(-2).putInt(10).putInt(1);
        assertThat(DiffCommand.difference(rec(RecordTypes.SELECT, a.array()), rec(RecordTypes.SELECT, b.array()))).isNull();
        assertThat(DiffCommand.difference(rec(RecordTypes.SELECT, a.array()), rec(RecordTypes.SELECT, c.array())))
                .isEqualTo("ready set");
        assertThat(DiffCommand.difference(rec(RecordTypes.SELECT, u1.array()), rec(RecordTypes.SELECT, u2.array())))
                .isEqualTo("ready set");
        byte[] one = bytes(payload(Hooks.NANO_TIME, 9).putLong(1));
        byte[] two = bytes(payload(Hooks.NANO_TIME, 9).putLong(2));
        byte[] other = bytes(payload(Hooks.CURRENT_MILLIS, 9).putLong(1));
        assertThat(DiffCommand.difference(rec(RecordTypes.CLOCK, one), rec(RecordTypes.CLOCK, one))).isNull();
        assertThat(DiffCommand.difference(rec(RecordTypes.CLOCK, one), rec(RecordTypes.CLOCK, two))).isEqualTo("payload");
        assertThat(DiffCommand.difference(rec(RecordTypes.CLOCK, one), rec(RecordTypes.CLOCK, other))).isEqualTo("kind");
        assertThat(DiffCommand.difference(rec(RecordTypes.CLOCK, one), rec(RecordTypes.RANDOM, one))).isEqualTo("type");
    }

    /** Notes per session: about 6 segments of 64 KiB. */
    static final int NOTES = 1500;

    static LogOptions small() {
        return new LogOptions().segmentBytes(64 << 10).blockSize(64 << 10);
    }

    static byte[] note(int i) {
        return ("note " + i + " " + "x".repeat(200)).getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void tailFollowsAcrossRollsAndANewSession() throws Exception {
        Path log = tmp.resolve("log");
        long last;
        try (LogWriter w = LogWriter.open(log, small())) {
            for (int i = 0; i < NOTES; i++) {
                last = w.append(RecordTypes.NOTE, 1, i, note(i));
            }
        }
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        TailCommand tail = new TailCommand();
        CommandLine cl = new CommandLine(tail);
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int[] exit = {-1};
        Thread t = new Thread(() -> exit[0] = cl.execute("-f", "-n", "10", "--log", log.toString()));
        t.start();
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (out.toString().lines().count() < 10) { // the backlog first, then the new session
            assertThat(System.nanoTime()).as("the backlog in time: " + err).isLessThan(deadline);
            Thread.sleep(10);
        }
        try (LogWriter w = LogWriter.open(log, small())) {
            last = -1;
            for (int i = 0; i < NOTES; i++) {
                last = w.append(RecordTypes.NOTE, 2, i, note(i));
                if (i % 100 == 99) {
                    w.awaitStable(last); // small batches: the segment rolls while tail follows
                }
            }
            w.awaitStable(last);
        }
        long lines10 = 2 * (NOTES + 1) - (NOTES + 1 - 10);
        while (out.toString().lines().count() < lines10 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        t.interrupt(); // what Ctrl-C is to the command line
        t.join(60_000);
        assertThat(t.isAlive()).isFalse();
        assertThat(exit[0]).as(err.toString()).isZero();
        List<String> lines = out.toString().lines().toList();
        Pattern p = Pattern.compile("\\s*(\\d+)\\s+(\\w+)\\s+epoch=(\\d+) .*");
        long expect = NOTES + 1 - 10; // the first session's header and its notes: the last 10 first
        int epochs = 0;
        for (String l : lines) {
            Matcher m = p.matcher(l);
            assertThat(m.matches()).as(l).isTrue();
            assertThat(Long.parseLong(m.group(1))).isEqualTo(expect++);
            if (m.group(2).equals("HEADER")) {
                assertThat(m.group(3)).isEqualTo("1");
                epochs++;
            }
        }
        assertThat(epochs).as("the second session's header").isEqualTo(1);
        assertThat(expect).isEqualTo(2 * (NOTES + 1));
        long secondSession = 0;
        for (Path seg : LogSegments.list(log)) {
            LogRecord first = LogSegments.firstRecord(seg);
            secondSession += first != null && first.epoch() == 1 ? 1 : 0;
        }
        assertThat(secondSession).as("segments the followed session rolled into").isGreaterThan(2);
    }

    @Test
    void statsBucketsRecordsByTheClockReadingsAndSessions() throws Exception {
        Path log = tmp.resolve("clocked");
        // Readings from 30 s into the next minute: the header (now) falls in the minute before.
        long start = (System.currentTimeMillis() / 60_000 + 1) * 60_000 + 30_000;
        try (LogWriter w = LogWriter.open(log, small())) {
            long seq = 0;
            for (int minute = 0; minute < 5; minute++) {
                w.append(RecordTypes.CLOCK, 1, seq++, bytes(payload(Hooks.CURRENT_MILLIS, 9).putLong(start + minute * 60_000L)));
                for (int i = 0; i <= minute; i++) {
                    w.append(RecordTypes.NOTE, 1, seq++, note(i));
                }
            }
        }
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = RevenantCli.run(new PrintWriter(out), new PrintWriter(err), "stats", "--log", log.toString(), "--json",
                "--bucket", "60");
        assertThat(exit).as(err.toString()).isZero();
        String json = out.toString();
        // One bucket per minute: the header alone, then each reading with its notes (1, 2, ... 5).
        Matcher m = Pattern.compile("\\{\"startMillis\":(\\d+),\"records\":(\\d+),").matcher(json);
        List<Long> counts = new java.util.ArrayList<>();
        while (m.find()) {
            counts.add(Long.parseLong(m.group(2)));
        }
        assertThat(counts).containsExactly(1L, 2L, 3L, 4L, 5L, 6L);
        assertThat(json).contains("\"bucketSeconds\":60").contains("\"timedRecords\":21")
                .contains("\"kind\":\"fresh\"").contains("\"servers\":[]").contains("\"accepted\":0");
    }
}
