package dev.revenant.agent.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * Root command of the Revenant CLI ({@code java -jar revenant-agent.jar ...}).
 *
 * <p>Exit codes are part of the interface: {@link #EXIT_OK}, {@link #EXIT_PROBLEM},
 * {@link #EXIT_USAGE}, {@link #EXIT_DIVERGENCE}. Subcommands are registered in the static
 * {@code subcommands} list below.
 *
 * <p>This class must not touch any Chronicle type in its static initialisation: {@link #main}
 * sets Chronicle's system properties before the first Chronicle class is loaded.
 */
@Command(
    name = "revenant",
    mixinStandardHelpOptions = true,
    versionProvider = RevenantCli.ManifestVersionProvider.class,
    usageHelpWidth = 100, // keeps the exit-code footer on one line
    description = "Revenant: crash recovery for unmodified JVM services by deterministic record and replay.",
    footerHeading = "%n",
    footer = "Exit codes: 0 ok; 1 problem found or refused; 2 usage or bad configuration; 3 replay divergence",
    subcommands = {
        InspectCommand.class,
        VerifyCommand.class,
        ReplayCommand.class,
        RecoverCommand.class,
        TailCommand.class,
        StatsCommand.class,
        ExportCommand.class,
        DiffCommand.class,
        DiagramCommand.class,
        StatusCommand.class,
        SelfTestChronicleCommand.class,
        CommandLine.HelpCommand.class,
    })
public final class RevenantCli implements Callable<Integer> {

    /** Success. */
    public static final int EXIT_OK = 0;
    /** A problem was found (e.g. a corrupt log) or the operation was refused; also uncaught errors. */
    public static final int EXIT_PROBLEM = 1;
    /** Usage error or bad configuration. */
    public static final int EXIT_USAGE = 2;
    /** Replay diverged from the recording. */
    public static final int EXIT_DIVERGENCE = 3;

    /** Set to {@code 1} to get full stack traces for uncaught errors. */
    static final String DEBUG_ENV = "REVENANT_DEBUG";

    @Spec
    CommandSpec spec;

    public static void main(String[] args) {
        configureChronicleProperties();
        quietSlf4j();
        System.exit(run(args));
    }

    /**
     * Runs the CLI in-process and returns the exit code (never calls {@link System#exit}).
     */
    public static int run(String... args) {
        configureChronicleProperties();
        return newCommandLine().execute(args == null ? new String[0] : args);
    }

    /** As {@link #run(String...)}, writing to the given streams instead of System.out/err. */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        configureChronicleProperties();
        CommandLine cl = newCommandLine();
        cl.setOut(out);
        cl.setErr(err);
        try {
            return cl.execute(args == null ? new String[0] : args);
        } finally {
            out.flush();
            err.flush();
        }
    }

    /** The configured picocli command line (exception handlers installed). */
    public static CommandLine newCommandLine() {
        CommandLine cl = new CommandLine(new RevenantCli());
        cl.setExecutionExceptionHandler(RevenantCli::handleExecutionException);
        cl.setParameterExceptionHandler(RevenantCli::handleParameterException);
        cl.setUsageHelpWidth(100); // also for subcommands
        return cl;
    }

    /**
     * Chronicle reads these once, in static initialisers: call before any Chronicle class loads.
     * Only analytics is forced; the others are defaults that {@code -D} on the command line can
     * override (e.g. {@code -Dchronicle.announcer.disable=false} to see the banner).
     */
    static void configureChronicleProperties() {
        System.setProperty("chronicle.analytics.disable", "true");
        // "Process id: ... :: Chronicle ... version" banner and the release-notes nag, on stdout.
        setIfAbsent("chronicle.announcer.disable", "true");
        // Jvm.perf() notes such as "Took N ms to ..." (performance info, not problems).
        setIfAbsent("disable.perf.info", "true");
    }

    /**
     * Chronicle logs through (shaded) slf4j, which has no provider in the jar and would print
     * three "SLF4J(W): No SLF4J providers were found" lines on every run. Select slf4j's NOP
     * provider explicitly (what it falls back to anyway) and hide slf4j's own "Attempting to load
     * provider" info line. Only in {@link #main} (our own process), not in {@link #run}, which may
     * be called inside someone else's JVM. In the shaded jar the class name below is relocated by
     * the shade plugin along with slf4j.
     */
    static void quietSlf4j() {
        setIfAbsent("slf4j.provider", "org.slf4j.helpers.NOP_FallbackServiceProvider");
        setIfAbsent("slf4j.internal.verbosity", "WARN");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    /** {@code revenant} with no subcommand: print the usage to stderr, it is a usage error. */
    @Override
    public Integer call() {
        throw new ParameterException(spec.commandLine(), "Missing subcommand");
    }

    static int handleExecutionException(Exception ex, CommandLine cl, CommandLine.ParseResult parsed) {
        PrintWriter err = cl.getErr();
        err.println("revenant: " + describe(ex));
        if (debug()) {
            ex.printStackTrace(err);
        }
        err.flush();
        return EXIT_PROBLEM;
    }

    static int handleParameterException(ParameterException ex, String[] args) {
        CommandLine cl = ex.getCommandLine();
        PrintWriter err = cl.getErr();
        err.println("revenant: " + ex.getMessage());
        if (debug()) {
            ex.printStackTrace(err);
        }
        UnmatchedArgumentException.printSuggestions(ex, err);
        err.print(cl.getHelp().fullSynopsis());
        err.println("Try '" + cl.getCommandSpec().qualifiedName() + " --help' for more information.");
        err.flush();
        CommandSpec spec = cl.getCommandSpec();
        return spec.exitCodeOnInvalidInput(); // 2 unless a subcommand says otherwise
    }

    /** One-line description of a failure: the message for ordinary exceptions, else type and message. */
    static String describe(Throwable t) {
        String msg = t.getMessage();
        if (msg == null || msg.isBlank() || t instanceof Error) {
            return t.toString();
        }
        if (t instanceof java.nio.file.FileSystemException) {
            return t.getClass().getSimpleName() + ": " + msg; // the bare message is only the path
        }
        return msg;
    }

    private static boolean debug() {
        return "1".equals(System.getenv(DEBUG_ENV));
    }

    /** Version from the shaded jar's manifest ({@code Implementation-Version}), else "dev". */
    public static final class ManifestVersionProvider implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"revenant " + version()};
        }
    }

    public static String version() {
        Package p = RevenantCli.class.getPackage();
        String v = p == null ? null : p.getImplementationVersion();
        return v == null || v.isBlank() ? "dev" : v;
    }
}
