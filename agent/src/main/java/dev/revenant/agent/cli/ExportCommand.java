package dev.revenant.agent.cli;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.Callable;

import dev.revenant.log.LogDirectory;
import dev.revenant.log.LogDirectoryException;
import dev.revenant.log.LogIssue;
import dev.revenant.log.LogRecord;
import dev.revenant.log.LogVerifier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code revenant export}: every record of a log, decoded, as JSON lines or CSV, for other tools. */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Writes every intact record of a log, one line each, with its determinant decoded where this "
                + "build knows it: the kind, the value(s), the connection, counts, addresses, and the bytes it "
                + "carries both as escaped text and as base64.",
                "Streams: the log is never held in memory. The output holds everything the app read (secrets "
                        + "included); a file made with -o is created readable by its owner only (0600)."},
        footerHeading = "%n",
        footer = {"Columns (CSV header; the same names in camelCase are the JSON keys, absent when empty):",
                "  " + ExportCommand.CSV_COLUMNS_1,
                "  " + ExportCommand.CSV_COLUMNS_2,
                "Exit codes: 0 ok; 1 the log holds damage (records up to it and after it are exported, where is "
                        + "printed on stderr); 2 usage, or the directory is not a log."})
public final class ExportCommand implements Callable<Integer> {
    /** The header in two halves, so that the help prints it on two lines of its own. */
    static final String CSV_COLUMNS_1 = "position,type,epoch,thread,thread_seq,length,kind,conn,server_conn,count,";
    static final String CSV_COLUMNS_2 = "ordinal,value,value2,address,local_address,ready,error,text,base64,summary";
    static final String CSV_HEADER = CSV_COLUMNS_1 + CSV_COLUMNS_2;

    enum Format { json, csv }

    @Spec
    CommandSpec spec;

    @Mixin
    LogOptions log;

    @Option(names = "--format", required = true, paramLabel = "json|csv",
            description = "json: one JSON object per line; csv: RFC 4180 with a header line.")
    Format format;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Write to FILE instead of stdout.")
    Path output;

    /** Thrown from the record callback to stop reading when the output cannot take more. */
    private static final class OutputClosed extends RuntimeException {
        OutputClosed() {
            super(null, null, false, false);
        }
    }

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        try {
            LogDirectory.requireReadableLog(log.log); // before -o creates or truncates a file
        } catch (LogDirectoryException e) {
            err.println("revenant export: " + e.getMessage());
            return RevenantCli.EXIT_USAGE;
        }
        PrintWriter out = output == null ? spec.commandLine().getOut() : open(output);
        long[] n = {0};
        LogVerifier.Report report;
        try {
            if (format == Format.csv) {
                out.println(CSV_HEADER);
            }
            report = VerifyCommand.read(spec, log, "export", r -> {
                out.println(format == Format.csv ? csv(r) : json(r));
                if ((++n[0] & 0x3FF) == 0 && out.checkError()) {
                    throw new OutputClosed();
                }
            });
        } catch (OutputClosed e) {
            report = null;
        } finally {
            if (output != null) {
                out.close();
            } else {
                out.flush();
            }
        }
        if (out.checkError()) {
            err.println("revenant export: could not write " + (output == null ? "to stdout" : output)
                    + " (closed, or the disk is full); the export is incomplete");
            return RevenantCli.EXIT_PROBLEM;
        }
        if (report == null) {
            return RevenantCli.EXIT_USAGE;
        }
        List<LogIssue> damage = report.damage();
        if (!damage.isEmpty()) {
            err.println("revenant export: the log is damaged: " + damage.get(0)
                    + (damage.size() > 1 ? " (and " + (damage.size() - 1) + " more; see revenant verify)" : "")
                    + "; exported the " + report.records() + " intact records");
            return RevenantCli.EXIT_PROBLEM;
        }
        return RevenantCli.EXIT_OK;
    }

    /** The output file, created 0600 where the file system has POSIX permissions. */
    private static PrintWriter open(Path file) throws IOException {
        try {
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (FileAlreadyExistsException e) {
            // overwritten below, keeping its permissions
        } catch (UnsupportedOperationException e) {
            Files.deleteIfExists(file);
            Files.createFile(file);
        }
        return new PrintWriter(new BufferedWriter(new OutputStreamWriter(Files.newOutputStream(file,
                StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING), StandardCharsets.UTF_8), 1 << 16));
    }

    static String json(LogRecord r) {
        Decoded d = Decoded.of(r);
        StringBuilder sb = new StringBuilder(160);
        sb.append("{\"position\":").append(r.position()).append(",\"type\":").append(Json.str(r.typeName()))
                .append(",\"epoch\":").append(r.epoch()).append(",\"thread\":").append(r.thread())
                .append(",\"threadSeq\":").append(r.threadSeq()).append(",\"length\":").append(r.payload().length);
        if (d.kind != null) {
            sb.append(",\"kind\":").append(Json.str(d.kind)).append(",\"kindCode\":").append(d.kindCode);
        }
        num(sb, "conn", d.conn);
        num(sb, "serverConn", d.serverConn);
        num(sb, "count", d.count);
        num(sb, "ordinal", d.ordinal);
        num(sb, "value", d.value);
        num(sb, "value2", d.value2);
        str(sb, "address", d.address);
        str(sb, "localAddress", d.localAddress);
        if (d.ready != null) {
            sb.append(",\"ready\":[");
            for (int i = 0; i < d.ready.size(); i++) {
                Decoded.Ready e = d.ready.get(i);
                sb.append(i == 0 ? "" : ",").append("{\"conn\":").append(e.conn()).append(",\"fd\":").append(e.fd())
                        .append(",\"events\":").append(e.events()).append('}');
            }
            sb.append(']');
        }
        str(sb, "error", d.error);
        if (d.data != null) {
            str(sb, "text", InspectCommand.escaped(d.data, Integer.MAX_VALUE));
            str(sb, "base64", Base64.getEncoder().encodeToString(d.data));
        }
        str(sb, "summary", d.summary);
        return sb.append('}').toString();
    }

    private static void num(StringBuilder sb, String key, Long v) {
        if (v != null) {
            sb.append(",\"").append(key).append("\":").append(v.longValue());
        }
    }

    private static void str(StringBuilder sb, String key, String v) {
        if (v != null) {
            sb.append(",\"").append(key).append("\":").append(Json.str(v));
        }
    }

    static String csv(LogRecord r) {
        Decoded d = Decoded.of(r);
        String[] f = {
            Long.toString(r.position()), r.typeName(), Integer.toString(r.epoch()), Long.toString(r.thread()),
            Long.toString(r.threadSeq()), Integer.toString(r.payload().length), d.kind, s(d.conn), s(d.serverConn),
            s(d.count), s(d.ordinal), s(d.value), s(d.value2), d.address, d.localAddress, d.readyText(), d.error,
            d.data == null ? null : InspectCommand.escaped(d.data, Integer.MAX_VALUE),
            d.data == null ? null : Base64.getEncoder().encodeToString(d.data), d.summary,
        };
        StringBuilder sb = new StringBuilder(160);
        for (int i = 0; i < f.length; i++) {
            if (i > 0) {
                sb.append(',');
            }
            sb.append(csvField(f[i]));
        }
        return sb.toString();
    }

    private static String s(Long v) {
        return v == null ? null : v.toString();
    }

    /** RFC 4180: a field with a comma, a quote or a line break is quoted, its quotes doubled. */
    static String csvField(String v) {
        if (v == null) {
            return "";
        }
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c == ',' || c == '"' || c == '\n' || c == '\r') {
                return '"' + v.replace("\"", "\"\"") + '"';
            }
        }
        return v;
    }
}
