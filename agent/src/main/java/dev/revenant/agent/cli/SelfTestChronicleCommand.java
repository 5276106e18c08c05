package dev.revenant.agent.cli;

import java.util.concurrent.Callable;

import dev.revenant.agent.bootstrap.SelfTest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * Hidden: {@code revenant selftest-chronicle}. Writes 1000 small raw records to a Chronicle queue
 * in a temp dir, reads them back with a tailer, prints {@code ok 1000} and deletes the dir. Proves
 * that the relocated Chronicle Queue works from the shaded jar.
 */
@Command(
    name = "selftest-chronicle",
    hidden = true,
    mixinStandardHelpOptions = true,
    description = "Write and read back 1000 records in a temporary Chronicle queue (packaging check).")
public final class SelfTestChronicleCommand implements Callable<Integer> {

    static final int RECORDS = 1000;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        int n = SelfTest.roundTrip(RECORDS);
        spec.commandLine().getOut().println("ok " + n);
        spec.commandLine().getOut().flush();
        return RevenantCli.EXIT_OK;
    }
}
