package dev.revenant.agent.cli;

import java.io.PrintWriter;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import dev.revenant.log.LogDirectory;
import dev.revenant.log.LogDirectoryException;
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
                "  revenant replay --log app-log -- java -cp app.jar com.acme.Main arg1"},
        footerHeading = "%n",
        footer = "Exit codes: 0 the log was replayed to its end; 1 refused (the log was recorded by another build of "
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
        List<String> cmd = new ArrayList<>();
        cmd.add(command.get(0));
        cmd.add("-javaagent:" + agentJar() + "=role=replay,log=" + dir + (force ? ",force=true" : ""));
        cmd.addAll(command.subList(1, command.size()));
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        return p.waitFor();
    }

    static Path agentJar() throws URISyntaxException {
        return Path.of(ReplayCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    }
}
