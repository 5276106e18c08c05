package dev.revenant.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.Callable;

import org.junit.jupiter.api.Test;

import picocli.CommandLine;
import picocli.CommandLine.Command;

class RevenantCliTest {

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        return RevenantCli.run(new PrintWriter(out), new PrintWriter(err), args);
    }

    @Test
    void helpExitsZeroAndDocumentsExitCodes() {
        assertThat(run("--help")).isEqualTo(0);
        assertThat(out.toString())
            .contains("Usage: revenant")
            .contains("deterministic record and replay")
            .contains("Exit codes: 0 ok; 1 problem found or refused; 2 usage or bad configuration; 3 replay divergence")
            .doesNotContain("selftest-chronicle");
        assertThat(err.toString()).isEmpty();
    }

    @Test
    void helpSubcommandWorks() {
        assertThat(run("help")).isEqualTo(0);
        assertThat(out.toString()).contains("Exit codes:");
    }

    @Test
    void versionExitsZero() {
        assertThat(run("--version")).isEqualTo(0);
        // "dev" from the classes directory; the project version from the shaded jar's manifest
        assertThat(out.toString()).startsWith("revenant ").contains(RevenantCli.version());
    }

    @Test
    void unknownSubcommandIsAUsageError() {
        assertThat(run("frobnicate")).isEqualTo(2);
        assertThat(err.toString())
            .startsWith("revenant: ")
            .contains("frobnicate")
            .contains("Usage: revenant")
            .contains("--help");
        assertThat(out.toString()).isEmpty();
    }

    @Test
    void unknownOptionIsAUsageError() {
        assertThat(run("--no-such-option")).isEqualTo(2);
        assertThat(err.toString()).contains("--no-such-option").contains("Usage: revenant");
    }

    @Test
    void noSubcommandIsAUsageError() {
        assertThat(run()).isEqualTo(2);
        assertThat(err.toString()).contains("Missing subcommand").contains("Usage: revenant");
    }

    @Test
    void uncaughtExceptionIsOneLineAndExitCodeOne() {
        CommandLine cl = RevenantCli.newCommandLine();
        cl.addSubcommand("boom", new Boom());
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute("boom");
        assertThat(code).isEqualTo(1);
        if (!"1".equals(System.getenv("REVENANT_DEBUG"))) {
            assertThat(err.toString()).isEqualTo("revenant: the log is on fire" + System.lineSeparator());
        }
    }

    @Test
    void describeFallsBackToTheExceptionTypeWithoutAMessage() {
        assertThat(RevenantCli.describe(new IllegalStateException("x"))).isEqualTo("x");
        assertThat(RevenantCli.describe(new NullPointerException())).isEqualTo("java.lang.NullPointerException");
        assertThat(RevenantCli.describe(new NoClassDefFoundError("a/B"))).isEqualTo("java.lang.NoClassDefFoundError: a/B");
        assertThat(RevenantCli.describe(new java.nio.file.NoSuchFileException("/x/y")))
            .isEqualTo("NoSuchFileException: /x/y");
    }

    @Test
    void chronicleSelfTestRunsInProcess() {
        assertThat(run("selftest-chronicle")).isEqualTo(0);
        assertThat(out.toString().trim()).isEqualTo("ok 1000");
        assertThat(System.getProperty("chronicle.analytics.disable")).isEqualTo("true");
    }

    @Command(name = "boom")
    static final class Boom implements Callable<Integer> {
        @Override
        public Integer call() {
            throw new IllegalStateException("the log is on fire");
        }
    }
}
