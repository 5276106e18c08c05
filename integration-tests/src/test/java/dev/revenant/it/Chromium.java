package dev.revenant.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Opens a page in headless Chromium and hands back the DOM after its scripts ran
 * ({@code --dump-dom}), with the page's self-report parsed. Each run gets a fresh profile
 * directory; nothing is fetched from the network.
 */
final class Chromium {
    /** What {@code revenant diagram} pages write into {@code <pre id="revenant-report">}. */
    record Page(String dom, Map<String, Object> report, long wallMillis) {}

    private static final Pattern REPORT = Pattern.compile("<pre id=\"revenant-report\">(.*?)</pre>", Pattern.DOTALL);

    private Chromium() {}

    /** The browser binary; a missing one fails the test, saying how to get it. */
    static Path binary() {
        String configured = System.getenv("REVENANT_CHROMIUM");
        List<Path> candidates = new ArrayList<>();
        if (configured != null && !configured.isBlank()) {
            candidates.add(Path.of(configured));
        }
        candidates.add(Path.of("/usr/bin/chromium"));
        String path = System.getenv().getOrDefault("PATH", "");
        for (String dir : path.split(":")) {
            if (!dir.isEmpty()) {
                candidates.add(Path.of(dir, "chromium"));
                candidates.add(Path.of(dir, "chromium-browser"));
            }
        }
        for (Path p : candidates) {
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        throw new AssertionError("chromium is not installed, and DiagramIT needs it to render the diagram pages: "
                + "./test.sh (the README's test command) installs it; or point REVENANT_CHROMIUM at a Chromium binary");
    }

    static String version() throws Exception {
        Process p = new ProcessBuilder(binary().toString(), "--version").redirectErrorStream(false).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        p.waitFor(30, TimeUnit.SECONDS);
        return out;
    }

    /** Loads {@code file} (with {@code #hash} if not null) and returns the DOM once the page has run. */
    static Page open(Path file, String hash, Path scratch, long timeoutSeconds) throws Exception {
        Path profile = Files.createTempDirectory(scratch, "chromium-profile");
        Path dom = scratch.resolve("dom-" + System.nanoTime() + ".html");
        Path err = scratch.resolve("chromium-" + System.nanoTime() + ".err");
        String url = file.toAbsolutePath().toUri() + (hash == null ? "" : "#" + hash);
        List<String> cmd = List.of(binary().toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-extensions", "--mute-audio", "--user-data-dir=" + profile,
                "--window-size=1280,800", "--virtual-time-budget=5000", "--dump-dom", url);
        long start = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectOutput(dom.toFile()).redirectError(err.toFile()).start();
        try {
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                throw new AssertionError("chromium did not finish " + url + " within " + timeoutSeconds + " s; stderr: "
                        + tail(err));
            }
        } finally {
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
            deleteTree(profile);
        }
        long wall = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        if (p.exitValue() != 0) {
            throw new AssertionError("chromium exited " + p.exitValue() + " on " + url + "; stderr: " + tail(err));
        }
        String text = Files.readString(dom, StandardCharsets.UTF_8);
        Files.deleteIfExists(dom);
        Matcher m = REPORT.matcher(text);
        if (!m.find()) {
            throw new AssertionError("no <pre id=\"revenant-report\"> in the page chromium rendered from " + url
                    + " (" + text.length() + " characters); stderr: " + tail(err));
        }
        String json = m.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"")
                .replace("&#39;", "'").replace("&nbsp;", "\u00a0").replace("&amp;", "&");
        return new Page(text, MiniJson.object(json), wall);
    }

    private static String tail(Path err) throws IOException {
        if (!Files.exists(err)) {
            return "(none)";
        }
        List<String> lines = Files.readAllLines(err, StandardCharsets.UTF_8).stream()
                .filter(l -> !l.contains("dbus")) // the container has no session bus; chromium says so, harmlessly
                .toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
