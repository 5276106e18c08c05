package dev.revenant.agent.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import dev.revenant.log.LogDirectory;
import dev.revenant.log.LogDirectoryException;
import dev.revenant.log.LogReader;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code revenant recover}: bring a crashed service back with the state it had, then let it go live. */
@Command(name = "recover", mixinStandardHelpOptions = true,
        description = {"Restarts a crashed service from its log: the app runs from main with the agent replaying every "
                + "recorded determinant (no real I/O with the outside, console quiet), and when the log is exhausted it "
                + "goes live: a new epoch starts recording into the same log, server sockets are bound to the ports "
                + "they had, and connections that were open at the crash get an IOException (their clients retry).",
                "Give the service's java command after --, as it was recorded. recover stays in the foreground as long "
                + "as the service runs (stop it, and the service stops too), e.g.:",
                "  revenant recover --log kv-log -- java -cp kv.jar com.acme.KvServer 7000"},
        footerHeading = "%n",
        footer = "Exit codes: 1 refused (the log was recorded by another build of the app: see --force), the log "
                + "cannot be read, or the service could not go live (its port is taken); 2 usage, or the directory is "
                + "not a log; 3 replay diverged from the recording (a report names the thread, what the log held, what "
                + "the program asked, the stack and the log position); otherwise the service's own exit code.")
public final class RecoverCommand implements Callable<Integer> {
    private static final String PROGRESS = "revenant: progress ";
    private static final String LIVE = "revenant: live ";

    @Spec
    CommandSpec spec;

    @Mixin
    LogOptions log;

    @Option(names = "--force", description = "Recover even if the log was recorded by another build of the app "
            + "(replay stops with a report where it diverges).")
    boolean force;

    @Option(names = "--json", description = "Print the summary as one JSON object on stdout when the service is live.")
    boolean json;

    @Parameters(arity = "1..*", paramLabel = "JAVA-COMMAND", description = "The service's java command, after --.")
    List<String> command = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter out = spec.commandLine().getOut();
        Path dir;
        long end;
        boolean fresh = neverStarted(log.log);
        try {
            dir = fresh ? log.log.toAbsolutePath().normalize() : LogDirectory.requireReadableLog(log.log);
            end = fresh ? -1 : LogReader.endPosition(dir);
        } catch (LogDirectoryException e) {
            err.println("revenant recover: " + e.getMessage());
            return RevenantCli.EXIT_USAGE;
        }
        if (command.isEmpty() || !Path.of(command.get(0)).getFileName().toString().startsWith("java")) {
            throw new ParameterException(spec.commandLine(), "give the service's java command after --, starting "
                    + "with java (got: " + String.join(" ", command) + ")");
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(command.get(0));
        cmd.add("-javaagent:" + ReplayCommand.agentJar() + (fresh ? "=log=" + dir
                : "=role=recover,log=" + dir + (force ? ",force=true" : "")));
        cmd.addAll(command.subList(1, command.size()));
        Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.INHERIT)
                .redirectOutput(ProcessBuilder.Redirect.INHERIT).start();
        Thread stopChild = new Thread(p::destroy, "revenant-recover-stop");
        Runtime.getRuntime().addShutdownHook(stopChild);
        boolean live = false;
        if (fresh) {
            // Nothing to replay: the service simply starts, recording into the directory.
            live = true;
            if (json) {
                out.println("{\"epoch\":0,\"replayed\":0,\"fresh\":true,\"pid\":" + p.pid() + "}");
                out.flush();
            } else {
                err.println("revenant recover: " + dir + " holds no session on disk: the process stopped before its "
                        + "log was durable, so it had answered nothing; started afresh, recording into it (pid "
                        + p.pid() + ")");
                err.flush();
            }
        }
        boolean tty = Progress.terminal() && System.getenv("REVENANT_NO_PROGRESS") == null;
        boolean progressShown = false;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.startsWith(PROGRESS)) {
                    if (tty) {
                        String[] f = line.substring(PROGRESS.length()).split(" ");
                        err.print("\rrecovering: " + f[0] + " determinants replayed, position " + f[1] + " of " + end);
                        err.flush();
                        progressShown = true;
                    }
                } else if (line.startsWith(LIVE) && !live) {
                    live = true;
                    if (progressShown) {
                        err.print("\r\033[K");
                    }
                    String summary = line.substring(LIVE.length());
                    if (json) {
                        out.println(summary.substring(0, summary.length() - 1) + ",\"pid\":" + p.pid() + "}");
                        out.flush();
                    } else {
                        err.println("revenant recover: " + human(summary, p.pid()));
                    }
                    err.flush();
                } else {
                    err.println(line);
                    err.flush();
                }
            }
        } catch (IOException e) {
            // the child closed its stderr; its exit code tells the rest
        }
        int code = p.waitFor();
        try {
            Runtime.getRuntime().removeShutdownHook(stopChild);
        } catch (IllegalStateException ignored) {
            // already shutting down
        }
        if (!live && code != 0 && code != RevenantCli.EXIT_DIVERGENCE) {
            err.println("revenant recover: the service stopped before it went live (exit code " + code + ")");
        }
        return code;
    }

    /** The summary for a person: {"epoch":1,"replayed":N,...} as one sentence. */
    /**
     * A directory the agent created (its writer lock is there) that holds no record: the recorded
     * process died before its log was durable — with {@code commit=pessimistic} the queue opens
     * while {@code main} runs — so it had sent nothing that depends on the log.
     */
    static boolean neverStarted(Path dir) {
        try {
            if (!Files.isDirectory(dir) || !Files.exists(dir.resolve(dev.revenant.log.LogWriter.LOCK_FILE))) {
                return false;
            }
            boolean segments;
            try (java.util.stream.Stream<Path> s = Files.list(dir)) {
                segments = s.anyMatch(f -> f.getFileName().toString().endsWith(".cq4"));
            }
            return !segments || LogReader.endPosition(dir) < 0;
        } catch (Exception e) {
            return false; // the usual checks say what is wrong
        }
    }

    private static String human(String json, long pid) {
        return "live again (pid " + pid + "): epoch " + field(json, "epoch") + ", " + field(json, "replayed")
                + " determinants replayed in " + field(json, "replayMillis") + " ms, listening on "
                + field(json, "listening") + ", " + field(json, "interruptedConnections")
                + " connection(s) open at the crash interrupted";
    }

    private static String field(String json, String name) {
        int i = json.indexOf("\"" + name + "\":");
        if (i < 0) {
            return "?";
        }
        int from = i + name.length() + 3;
        boolean quoted = json.charAt(from) == '"';
        int start = quoted ? from + 1 : from;
        int endAt = start;
        while (endAt < json.length() && (quoted ? json.charAt(endAt) != '"' : ",}".indexOf(json.charAt(endAt)) < 0)) {
            endAt++;
        }
        String v = json.substring(start, endAt);
        return v.isEmpty() ? "nothing" : v;
    }
}
