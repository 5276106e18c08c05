package dev.revenant.it;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Runs the real CLI: {@code java -jar agent/target/revenant-agent.jar ...}. */
final class Cli {
    record Result(int exit, String out, String err) {}

    static Path agentJar() {
        Path module = Path.of(System.getProperty("revenant.it.moduleDir", System.getProperty("user.dir")));
        Path jar = module.resolve("../agent/target/revenant-agent.jar").normalize();
        if (!Files.isRegularFile(jar)) {
            throw new AssertionError("the shaded agent jar is missing at " + jar + ": run `mvn -B package` first");
        }
        return jar;
    }

    static Result run(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-jar", agentJar().toString()));
        cmd.addAll(List.of(args));
        try (JavaProcess p = JavaProcess.start(Map.of("REVENANT_NO_PROGRESS", "1"), cmd)) {
            int exit = p.waitForExit(120);
            return new Result(exit, String.join("\n", p.lines), String.join("\n", p.errLines));
        }
    }

    /** A copy of a log directory's files (not its subdirectories) in {@code parent/name}, to damage or grow. */
    static Path copyLog(Path from, Path parent, String name) throws java.io.IOException {
        Path to = parent.resolve(name);
        Files.createDirectories(to);
        try (java.util.stream.Stream<Path> s = Files.list(from)) {
            for (Path p : s.toList()) {
                if (Files.isRegularFile(p)) {
                    Files.copy(p, to.resolve(p.getFileName()));
                }
            }
        }
        return to;
    }

    /** Writes {@code source} as {@code dir/className.java} and compiles it into {@code dir}: a small app for a test. */
    static void compileApp(Path dir, String className, String source) throws java.io.IOException {
        Files.createDirectories(dir);
        Path src = dir.resolve(className + ".java");
        Files.writeString(src, source, java.nio.charset.StandardCharsets.UTF_8);
        int rc = javax.tools.ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", dir.toString(),
                src.toString());
        if (rc != 0) {
            throw new AssertionError("javac failed on " + src + " (exit " + rc + ")");
        }
    }
}
