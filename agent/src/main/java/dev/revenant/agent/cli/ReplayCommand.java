package dev.revenant.agent.cli;

import java.io.PrintWriter;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import dev.revenant.log.LogDirectory;
import dev.revenant.log.LogDirectoryException;
import dev.revenant.log.LogReader;
import dev.revenant.log.LogRecord;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code revenant replay}: rerun a recorded program from main, fed from its log. */
@Command(name = "replay", mixinStandardHelpOptions = true,
        description = {"Reruns a recorded program from its main method with the agent in replay mode: every clock "
                + "read, random seed and identity hash comes from the log, the program's console output passes "
                + "through, and replay stops when the log ends or the program exits.",
                "Give the program's java command after --, as it was recorded, e.g.:",
                "  revenant replay --log app-log -- java -cp app.jar com.acme.Main arg1",
                "With --to POSITION replay stops there: every app thread whose next determinant is at or after "
                        + "POSITION (or that has none left) parks before taking it, and one line on stderr says where "
                        + "it stopped (\"revenant: replay stopped at position POSITION: thread ... waits for ...\"). "
                        + "The JVM then exits 0 once no thread has taken a determinant for 200 ms; with --suspend it "
                        + "stays held, runs with a JDWP agent, and the debugger address is printed before it starts "
                        + "(stop it with Ctrl-C or a kill)."},
        footerHeading = "%n",
        footer = "Exit codes: 0 the log was replayed to its end (or to --to); 1 refused (the log was recorded by another build of "
                + "the app: see --force) or the log cannot be read; 2 usage, or the directory is not a log; 3 replay "
                + "diverged from the recording (a report names the thread, what the log held, what the program asked, "
                + "the stack and the log position); otherwise the program's own exit code.")
public final class ReplayCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LogOptions log;

    @Option(names = "--force", description = "Replay even if the log was recorded by another build of the app "
            + "(and report where it diverges).")
    boolean force;

    @Option(names = "--to", paramLabel = "POSITION", description = "Stop replay at this log position (see above); "
            + "it must lie between the log's first and last position.")
    Long to;

    @Option(names = "--suspend", description = "With --to: keep the stopped JVM held, started with a JDWP agent for "
            + "a debugger.")
    boolean suspend;

    @Option(names = "--debug-port", paramLabel = "PORT", description = "With --suspend: the JDWP port on 127.0.0.1 "
            + "(default: a free one).")
    Integer debugPort;

    @Parameters(arity = "1..*", paramLabel = "JAVA-COMMAND", description = "The program's java command, after --.")
    List<String> command = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        Path dir;
        try {
            dir = LogDirectory.requireReadableLog(log.log);
        } catch (LogDirectoryException e) {
            err.println("revenant replay: " + e.getMessage());
            return RevenantCli.EXIT_USAGE;
        }
        if (command.isEmpty() || !Path.of(command.get(0)).getFileName().toString().startsWith("java")) {
            throw new ParameterException(spec.commandLine(), "give the program's java command after --, starting "
                    + "with java (got: " + String.join(" ", command) + ")");
        }
        if (suspend && to == null) {
            throw new ParameterException(spec.commandLine(), "--suspend needs --to POSITION: where to stop");
        }
        if (debugPort != null && !suspend) {
            throw new ParameterException(spec.commandLine(), "--debug-port goes with --suspend");
        }
        if (debugPort != null && (debugPort < 1 || debugPort > 65535)) {
            throw new ParameterException(spec.commandLine(), "--debug-port " + debugPort + " is not a TCP port");
        }
        if (to != null) {
            long first;
            long last;
            try (LogReader r = LogReader.open(dir, LogReader.Mode.LENIENT)) {
                LogRecord f = r.next();
                first = f == null ? -1 : f.position();
            }
            last = LogReader.endPosition(dir);
            if (first < 0 || to < first || to > last) {
                throw new ParameterException(spec.commandLine(), "--to " + to + " is outside the log: "
                        + (first < 0 ? "it holds no record" : "its positions are " + first + ".." + last));
            }
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(command.get(0));
        if (suspend) {
            int port = debugPort != null ? debugPort : freePort();
            cmd.add("-agentlib:jdwp=transport=dt_socket,server=y,suspend=n,quiet=y,address=127.0.0.1:" + port);
            err.println("revenant replay: debugger: attach to 127.0.0.1:" + port + " (e.g. jdb -attach 127.0.0.1:"
                    + port + "); the JVM is held at position " + to + " until stopped");
            err.flush();
        }
        cmd.add("-javaagent:" + agentJar() + "=role=replay,log=" + dir + (force ? ",force=true" : "")
                + (to != null ? ",stop=" + to : "") + (suspend ? ",hold=true" : ""));
        cmd.addAll(command.subList(1, command.size()));
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        // Stopping the CLI stops the program too (a held JVM must not outlive it unseen).
        Thread stopChild = new Thread(p::destroy, "revenant-replay-stop");
        Runtime.getRuntime().addShutdownHook(stopChild);
        int code = p.waitFor();
        try {
            Runtime.getRuntime().removeShutdownHook(stopChild);
        } catch (IllegalStateException ignored) {
            // already shutting down
        }
        return code;
    }

    /** A port nobody listens on now (the JVM binds it a moment later; another process could take it first). */
    private static int freePort() throws java.io.IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    static Path agentJar() throws URISyntaxException {
        return Path.of(ReplayCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    }
}
