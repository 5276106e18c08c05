package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;


import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's implementation and libraries are invisible to the app: only the bootstrap and the
 * bridge (on the boot class path) can be reached from app code, so an app never links against, or
 * clashes with, Chronicle, jnr, JNA, picocli or the agent's own classes.
 */
class AgentIsolationIT {
    @TempDir
    Path tmp;

    @Test
    void appSeesNoneOfTheAgentsClasses() throws Exception {
        Cli.compileApp(tmp, "Probe", """
                public class Probe {
                    public static void main(String[] a) {
                        for (String n : a) {
                            try {
                                Class<?> c = Class.forName(n);
                                System.out.println(n + " visible loader=" + c.getClassLoader());
                            } catch (ClassNotFoundException e) {
                                System.out.println(n + " hidden");
                            }
                        }
                    }
                }
                """);
        Path log = tmp.resolve("log");
        List<String> hidden = List.of("com.sun.jna.Native", "jnr.ffi.Platform", "com.kenai.jffi.Foreign",
                "picocli.CommandLine", "dev.revenant.shaded.picocli.CommandLine", "dev.revenant.log.LogWriter",
                "dev.revenant.agent.runtime.AgentMain", "dev.revenant.shaded.openhft.chronicle.core.Jvm",
                "net.openhft.chronicle.core.Jvm", "net.bytebuddy.ByteBuddy");
        List<String> cmd = new java.util.ArrayList<>(List.of(JavaProcess.javaBin(),
                "-javaagent:" + Cli.agentJar() + "=log=" + log, "-cp", tmp.toString(), "Probe"));
        cmd.addAll(hidden);
        cmd.add("dev.revenant.bridge.Hooks");
        try (JavaProcess p = JavaProcess.start(Map.of(), cmd)) {
            assertThat(p.waitForExit(120)).as(String.join("\n", p.errLines)).isZero();
            for (String n : hidden) {
                assertThat(p.lines).contains(n + " hidden");
            }
            assertThat(p.lines).contains("dev.revenant.bridge.Hooks visible loader=null");
            assertThat(p.errLines).noneMatch(l -> l.contains("Sharing is only supported"));
        }
        Cli.Result r = Cli.run("verify", "--log", log.toString());
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("sound");
    }
}
