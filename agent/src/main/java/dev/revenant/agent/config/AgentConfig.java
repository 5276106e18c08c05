package dev.revenant.agent.config;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The agent's settings. Each key is read, weakest first, from its built-in default, the
 * environment variable {@code REVENANT_<KEY>}, the system property {@code revenant.<key>}, and the
 * {@code -javaagent:...=key=value,key=value} arguments. Unknown keys and bad values are errors
 * ({@link ConfigException}, one line) so a typo never silently changes what is recorded.
 *
 * <p>Keys: {@code log}, {@code strict}, {@code commit}, {@code diskfull} (what held output does
 * while the log's file system refuses room: {@code hold} keeps it until the log can be written
 * again, {@code fail} fails the app's pending and new socket writes with an {@code IOException}),
 * {@code exclude}, {@code role}, {@code force} (replay a log from another app build),
 * {@code disable} (switch off recording of a category: for proving tests can fail, never for
 * production), {@code jmx} (register the monitoring MBean), {@code stop} (replay: park the app's
 * threads at this log position; set by {@code replay --to}) and {@code hold} (keep the JVM once
 * stopped instead of exiting 0; {@code replay --suspend}), {@code schedule}, {@code preempt} (loop
 * back-edges of app code between two preemption points of the serial scheduler; 0: none) and {@code check}
 * ({@code stamps}: a debugging mode that logs each thread's identity-hash stamp counter and tick
 * beside every determinant, so that replay reports the first determinant where they part). The
 * README's configuration table lists them.
 */
public record AgentConfig(Path log, boolean strict, String commit, List<String> exclude, String role, boolean force,
                          List<String> disable, String diskfull, boolean jmx, long stop, boolean hold,
                          String schedule, int preempt, String check) {

    /** Back-edges of app code between two preemption points of the serial scheduler, by default. */
    public static final int PREEMPT_DEFAULT = 1 << 16;

    /** Every key with its default; the order is the README's. */
    public static final Map<String, String> DEFAULTS;

    static {
        Map<String, String> d = new LinkedHashMap<>();
        d.put("log", "./revenant-log");
        d.put("strict", "true");
        d.put("commit", "pessimistic");
        d.put("diskfull", "hold");
        d.put("exclude", "");
        d.put("role", "record");
        d.put("force", "false");
        d.put("disable", "");
        d.put("jmx", "true");
        d.put("stop", "-1");
        d.put("hold", "false");
        d.put("schedule", "serial");
        d.put("preempt", String.valueOf(PREEMPT_DEFAULT));
        d.put("check", "none");
        DEFAULTS = java.util.Collections.unmodifiableMap(d);
    }

    public static AgentConfig parse(String agentArgs, Map<String, String> env, java.util.Properties sys) {
        Map<String, String> v = new LinkedHashMap<>(DEFAULTS);
        for (String key : DEFAULTS.keySet()) {
            String e = env.get("REVENANT_" + key.toUpperCase(Locale.ROOT));
            if (e != null) {
                v.put(key, e);
            }
            String p = sys.getProperty("revenant." + key);
            if (p != null) {
                v.put(key, p);
            }
        }
        if (agentArgs != null && !agentArgs.isBlank()) {
            for (String item : agentArgs.split(",")) {
                String it = item.trim();
                if (it.isEmpty() || it.equals("selftest")) {
                    continue;
                }
                int eq = it.indexOf('=');
                if (eq <= 0) {
                    throw new ConfigException("agent argument '" + it + "' is not key=value (keys: "
                            + String.join(", ", DEFAULTS.keySet()) + ")");
                }
                String key = it.substring(0, eq).trim();
                if (!DEFAULTS.containsKey(key)) {
                    throw new ConfigException("unknown agent key '" + key + "' (known: "
                            + String.join(", ", DEFAULTS.keySet()) + ")");
                }
                v.put(key, it.substring(eq + 1).trim());
            }
        }
        String strict = v.get("strict").toLowerCase(Locale.ROOT);
        if (!strict.equals("true") && !strict.equals("false")) {
            throw new ConfigException("strict=" + v.get("strict") + ": expected true or false");
        }
        String commit = v.get("commit");
        if (!commit.equals("pessimistic") && !commit.equals("none")) {
            throw new ConfigException("commit=" + commit + ": expected pessimistic or none");
        }
        String diskfull = v.get("diskfull").toLowerCase(Locale.ROOT);
        if (!diskfull.equals("hold") && !diskfull.equals("fail")) {
            throw new ConfigException("diskfull=" + v.get("diskfull") + ": expected hold or fail");
        }
        String role = v.get("role");
        if (!List.of("record", "replay", "recover").contains(role)) {
            throw new ConfigException("role=" + role + ": expected record, replay or recover");
        }
        if (v.get("log").isBlank()) {
            throw new ConfigException("log= is empty: name the log directory");
        }
        List<String> exclude = v.get("exclude").isBlank() ? List.of() : List.of(v.get("exclude").split(";"));
        String force = v.get("force").toLowerCase(Locale.ROOT);
        if (!force.equals("true") && !force.equals("false")) {
            throw new ConfigException("force=" + v.get("force") + ": expected true or false");
        }
        List<String> disable = v.get("disable").isBlank() ? List.of() : List.of(v.get("disable").split(";"));
        for (String c : disable) {
            if (!List.of("clocks", "random", "threads", "hashes", "sockets").contains(c)) {
                throw new ConfigException("disable=" + c + ": expected clocks, random, threads, hashes or sockets");
            }
        }
        String jmx = v.get("jmx").toLowerCase(Locale.ROOT);
        if (!jmx.equals("true") && !jmx.equals("false")) {
            throw new ConfigException("jmx=" + v.get("jmx") + ": expected true or false");
        }
        long stop;
        try {
            stop = Long.parseLong(v.get("stop").trim());
        } catch (NumberFormatException e) {
            throw new ConfigException("stop=" + v.get("stop") + ": expected a log position (or -1)");
        }
        if (stop < -1) {
            throw new ConfigException("stop=" + stop + ": expected a log position (or -1)");
        }
        if (stop >= 0 && !role.equals("replay")) {
            throw new ConfigException("stop=" + stop + " is for role=replay only (revenant replay --to)");
        }
        String hold = v.get("hold").toLowerCase(Locale.ROOT);
        if (!hold.equals("true") && !hold.equals("false")) {
            throw new ConfigException("hold=" + v.get("hold") + ": expected true or false");
        }
        String schedule = v.get("schedule").toLowerCase(Locale.ROOT);
        if (!schedule.equals("serial") && !schedule.equals("none")) {
            throw new ConfigException("schedule=" + v.get("schedule") + ": expected serial or none");
        }
        int preempt;
        try {
            preempt = Integer.parseInt(v.get("preempt").trim());
        } catch (NumberFormatException e) {
            preempt = -1;
        }
        if (preempt < 0) {
            throw new ConfigException("preempt=" + v.get("preempt")
                    + ": expected a count of loop back-edges between preemption points (0: off)");
        }
        String check = v.get("check").toLowerCase(Locale.ROOT);
        if (!check.equals("none") && !check.equals("stamps")) {
            throw new ConfigException("check=" + v.get("check") + ": expected none or stamps");
        }
        return new AgentConfig(Path.of(v.get("log")), strict.equals("true"), commit, exclude, role,
                force.equals("true"), disable, diskfull, jmx.equals("true"), stop, hold.equals("true"), schedule,
                preempt, check);
    }

    /** A bad setting; the message is the one line the user sees. */
    public static final class ConfigException extends IllegalArgumentException {
        public ConfigException(String m) {
            super(m);
        }
    }
}
