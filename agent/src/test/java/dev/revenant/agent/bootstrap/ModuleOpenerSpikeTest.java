package dev.revenant.agent.bootstrap;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Spike for {@link ModuleOpener}: a fresh JVM (no --add-opens/--add-exports; surefire's flags are
 * not inherited) with a minimal agent jar holding only {@link Premain} and {@link ModuleOpener}
 * must see java.base opened/exported to the class path. The full check with Chronicle in the
 * shaded jar is {@code java -javaagent:agent/target/revenant-agent.jar=selftest ...} after
 * {@code mvn package}.
 */
class ModuleOpenerSpikeTest {

    @TempDir
    static Path tmp;

    static Path agentJar;

    @BeforeAll
    static void buildMinimalAgentJar() throws Exception {
        Path classes = classesDirOf(Premain.class);
        agentJar = tmp.resolve("mini-agent.jar");
        Manifest mf = new Manifest();
        mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        mf.getMainAttributes().putValue("Premain-Class", Premain.class.getName());
        mf.getMainAttributes().putValue("Can-Redefine-Classes", "true");
        try (OutputStream os = Files.newOutputStream(agentJar); JarOutputStream jar = new JarOutputStream(os, mf)) {
            // The bootstrap classes the real jar has at its root (all but those that name library
            // types), deliberately without SelfTest: "selftest" then fails, which exercises the
            // failure path. No revenant-impl/ section: premain uses its own loader, the probe's.
            Path pkg = classes.resolve(Premain.class.getPackageName().replace('.', '/'));
            List<Path> files;
            try (var list = Files.list(pkg)) {
                files = list.filter(f -> f.toString().endsWith(".class"))
                    .filter(f -> !f.getFileName().toString().startsWith("SelfTest"))
                    .filter(f -> !f.getFileName().toString().startsWith("ImplStartup"))
                    .sorted().toList();
            }
            for (Path f : files) {
                String entry = classes.relativize(f).toString().replace('\\', '/');
                jar.putNextEntry(new JarEntry(entry));
                jar.write(Files.readAllBytes(f));
                jar.closeEntry();
            }
        }
    }

    @Test
    void withoutTheAgentJavaBaseIsClosed() throws Exception {
        Result r = runProbe(null);
        assertThat(r.exit).as(r.toString()).isEqualTo(0);
        assertThat(r.out).contains("exported sun.nio.ch=false").contains("open java.lang=false");
    }

    @Test
    void agentOpensAndExportsWhatChronicleNeeds() throws Exception {
        Result r = runProbe("");
        assertThat(r.exit).as(r.toString()).isEqualTo(0);
        for (String pkg : ModuleOpener.EXPORTS) {
            assertThat(r.out).as(r.toString()).contains("exported " + pkg + "=true");
        }
        for (String pkg : ModuleOpener.OPENS) {
            assertThat(r.out).as(r.toString()).contains("open " + pkg + "=true");
        }
        assertThat(r.out).contains("deep reflection ok");
        if (Runtime.version().feature() >= 22) {
            assertThat(r.out).contains("native access=true");
        }
        assertThat(r.err).as(r.toString()).doesNotContain("revenant:");
    }

    @Test
    void startupFailureIsOneLineAndExitCodeTwo() throws Exception {
        Result r = runProbe("selftest");
        assertThat(r.exit).as(r.toString()).isEqualTo(2);
        assertThat(r.err.trim()).startsWith("revenant: agent start-up failed: ");
        assertThat(r.err.trim().lines().count()).isEqualTo(1);
        assertThat(r.out).doesNotContain("exported");
    }

    @Test
    void strictFalseWarnsAndRunsTheApplication() throws Exception {
        Result r = runProbe("selftest,strict=false");
        assertThat(r.exit).as(r.toString()).isEqualTo(0);
        assertThat(r.err).contains("revenant: WARNING: agent start-up failed").contains("running WITHOUT recording");
        assertThat(r.out).contains("open java.lang=true");
    }

    @Test
    void agentFlags() {
        assertThat(Premain.hasFlag(null, "selftest")).isFalse();
        assertThat(Premain.hasFlag("log=/x,selftest", "selftest")).isTrue();
        assertThat(Premain.hasFlag("log=/x, strict=false", "strict=false")).isTrue();
        assertThat(Premain.hasFlag("nostrict=false", "strict=false")).isFalse();
    }

    /** The tiny application run under the agent. */
    public static final class Probe {
        public static void main(String[] args) throws Exception {
            Module base = Object.class.getModule();
            Module me = Probe.class.getModule();
            StringBuilder sb = new StringBuilder();
            for (String pkg : ModuleOpener.EXPORTS) {
                sb.append("exported ").append(pkg).append('=').append(base.isExported(pkg, me)).append('\n');
            }
            for (String pkg : ModuleOpener.OPENS) {
                sb.append("open ").append(pkg).append('=').append(base.isOpen(pkg, me)).append('\n');
            }
            if (base.isOpen("java.nio", me)) {
                // what Chronicle does: deep reflection into java.nio
                var f = java.nio.Buffer.class.getDeclaredField("address");
                f.setAccessible(true);
                sb.append("deep reflection ok\n");
            }
            if (Runtime.version().feature() >= 22) {
                Object enabled = Module.class.getMethod("isNativeAccessEnabled").invoke(me);
                sb.append("native access=").append(enabled).append('\n');
            }
            System.out.print(sb);
        }
    }

    private static Result runProbe(String agentArgs) throws IOException, InterruptedException, URISyntaxException {
        Path javaBin = Paths.get(System.getProperty("java.home"), "bin", "java");
        List<String> cmd = new ArrayList<>();
        cmd.add(javaBin.toString());
        if (agentArgs != null) {
            cmd.add("-javaagent:" + agentJar + (agentArgs.isEmpty() ? "" : "=" + agentArgs));
        }
        // ModuleOpener is on the probe's class path too (for its EXPORTS/OPENS lists); main classes
        // are not, so dev.revenant.agent.runtime.AgentMain is absent whatever the lead adds.
        cmd.add("-cp");
        cmd.add(classesDirOf(Probe.class) + java.io.File.pathSeparator + agentJar);
        cmd.add(Probe.class.getName());
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().remove("JAVA_TOOL_OPTIONS");
        pb.environment().remove("JDK_JAVA_OPTIONS");
        pb.environment().remove("REVENANT_DEBUG");
        Path outFile = tmp.resolve("out-" + System.nanoTime());
        Path errFile = tmp.resolve("err-" + System.nanoTime());
        pb.redirectOutput(outFile.toFile()).redirectError(errFile.toFile());
        Process p = pb.start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("probe JVM timed out: " + cmd);
        }
        return new Result(p.exitValue(), Files.readString(outFile, StandardCharsets.UTF_8),
            Files.readString(errFile, StandardCharsets.UTF_8));
    }

    private static Path classesDirOf(Class<?> c) throws URISyntaxException {
        return Paths.get(c.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    private static final class Result {
        final int exit;
        final String out;
        final String err;

        Result(int exit, String out, String err) {
            this.exit = exit;
            this.out = out;
            this.err = err;
        }

        @Override
        public String toString() {
            return "exit=" + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }
}
