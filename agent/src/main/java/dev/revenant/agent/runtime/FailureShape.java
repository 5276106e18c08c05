package dev.revenant.agent.runtime;

import java.util.ArrayList;
import java.util.List;

/**
 * The stack trace of a recorded socket failure, so that replay throws an exception of the same
 * shape. A replayed failure is made by the agent inside its hook; its own stack would hold the
 * agent's and reflection's frames where the recorded one held the JDK's frames below the hooked
 * method. Apps walk such stacks (a logger prints them, frame by frame, in loops of app code), so
 * both the printed output and the app's loop back-edges, which the serial scheduler counts for
 * preemption, differed: ZooKeeper's workers each logged the stand-ins' resets of a recovery with
 * 10 frames more in the next replay, reached their preemption points earlier and parted from the
 * log.
 *
 * <p>Recording keeps the frames of the thrown exception that lie above the hooked method (the
 * first frame the exception's stack and the hook's own stack share by method, whose line it
 * keeps too); replay puts them on top of its own stack below that method, which is the app's and
 * the same as when recorded. The frames travel after the failure's message, behind a NUL.
 */
public final class FailureShape {
    /** Separates the message from the frames in a recorded failure. */
    static final char SEPARATOR = '\0';
    private static final int MAX_FRAMES = 64;

    private FailureShape() {}

    /** The human part of a recorded failure (what {@code inspect} shows). */
    public static String text(String recorded) {
        int at = recorded.indexOf(SEPARATOR);
        return at < 0 ? recorded : recorded.substring(0, at);
    }

    /** Recording, in the exit hook of the method that threw {@code thrown}: its frames above that method. */
    static String framesOf(Throwable thrown) {
        StackTraceElement[] t = thrown.getStackTrace();
        StackTraceElement[] here = new Throwable().getStackTrace();
        int i = t.length - 1;
        int j = here.length - 1;
        while (i >= 0 && j >= 0 && t[i].equals(here[j])) {
            i--;
            j--;
        }
        if (i < 0 || j < 0 || !sameMethod(t[i], here[j]) || i + 1 > MAX_FRAMES) {
            return null; // not thrown below the hook's method: replay keeps its own shape
        }
        StringBuilder sb = new StringBuilder();
        for (int k = 0; k <= i; k++) {
            StackTraceElement f = t[k];
            String printed = f.toString();
            String loader = f.getClassLoaderName() != null && printed.startsWith(f.getClassLoaderName() + "/")
                    ? f.getClassLoaderName() : "";
            String version = f.getModuleVersion() != null && printed.contains("@" + f.getModuleVersion() + "/")
                    ? f.getModuleVersion() : "";
            sb.append(k == 0 ? "" : "\n").append(loader).append('\t').append(nz(f.getModuleName())).append('\t')
                    .append(version).append('\t').append(f.getClassName()).append('\t').append(f.getMethodName())
                    .append('\t').append(nz(f.getFileName())).append('\t').append(f.getLineNumber());
        }
        return sb.toString();
    }

    /**
     * Replay, inside the hook of the method that fails: gives {@code made} the recorded frames on
     * top of this thread's stack below that method. Leaves it alone if the frames do not parse or
     * that method is not on the stack.
     */
    static void shape(Throwable made, String frames) {
        List<StackTraceElement> top = new ArrayList<>();
        try {
            for (String line : frames.split("\n")) {
                String[] p = line.split("\t", -1);
                top.add(new StackTraceElement(empty(p[0]), empty(p[1]), empty(p[2]), p[3], p[4], empty(p[5]),
                        Integer.parseInt(p[6])));
            }
        } catch (RuntimeException e) {
            return;
        }
        StackTraceElement junction = top.get(top.size() - 1);
        StackTraceElement[] here = new Throwable().getStackTrace();
        for (int k = 0; k < here.length; k++) {
            if (sameMethod(here[k], junction)) {
                List<StackTraceElement> all = new ArrayList<>(top);
                for (int m = k + 1; m < here.length; m++) {
                    all.add(here[m]);
                }
                made.setStackTrace(all.toArray(new StackTraceElement[0]));
                return;
            }
        }
    }

    private static boolean sameMethod(StackTraceElement a, StackTraceElement b) {
        return a.getClassName().equals(b.getClassName()) && a.getMethodName().equals(b.getMethodName());
    }

    private static String nz(String s) {
        return s == null ? "" : s;
    }

    private static String empty(String s) {
        return s.isEmpty() ? null : s;
    }
}
