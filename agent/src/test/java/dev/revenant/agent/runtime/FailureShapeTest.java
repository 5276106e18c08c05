package dev.revenant.agent.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.SocketException;
import java.util.Arrays;

import org.junit.jupiter.api.Test;

/**
 * A failure recorded in the hook of the method that threw it, replayed from a hook at that
 * method's start with extra frames of its own on top (as the agent's are): the replayed exception
 * has the recorded class, message and the recorded stack, frame for frame and as printed.
 */
class FailureShapeTest {
    private String recorded;
    private Throwable original;

    /** Stands for a rewritten JDK method: records what its body threw, or replays it from its hook. */
    private void hooked(boolean replay) throws Throwable {
        if (replay) {
            throw agentFrames(3);
        }
        try {
            deeper(2);
        } catch (SocketException e) {
            original = e;
            recorded = NetCodec.message(e); // the exit hook runs in this frame
            throw e;
        }
    }

    private Throwable agentFrames(int n) {
        return n == 0 ? NetCodec.failure(recorded) : agentFrames(n - 1);
    }

    private static void deeper(int n) throws SocketException {
        if (n == 0) {
            throw new SocketException("Connection reset");
        }
        deeper(n - 1);
    }

    /** One call site for both runs, so that the frames below {@link #hooked} are the same. */
    private Throwable run(boolean replay) {
        try {
            hooked(replay);
            return null;
        } catch (Throwable t) {
            return t;
        }
    }

    @Test
    void aReplayedFailureHasTheRecordedStack() {
        Throwable[] got = new Throwable[2];
        for (int i = 0; i < 2; i++) {
            got[i] = run(i == 1);
        }
        assertThat(got[0]).isSameAs(original);
        assertThat(recorded).startsWith("java.net.SocketException: Connection reset" + FailureShape.SEPARATOR);
        assertThat(FailureShape.text(recorded)).isEqualTo("java.net.SocketException: Connection reset");
        Throwable replayed = got[1];
        assertThat(replayed).isInstanceOf(SocketException.class).hasMessage("Connection reset");
        // frame for frame: class, method, file, line; and printed alike (a frame made here cannot
        // carry the JVM's "built-in loader" mark, so it is made without the loader name the JVM
        // would not print)
        assertThat(Arrays.stream(replayed.getStackTrace()).map(f -> f.getClassName() + "." + f.getMethodName() + ":"
                + f.getFileName() + ":" + f.getLineNumber()).toList())
                .isEqualTo(Arrays.stream(original.getStackTrace()).map(f -> f.getClassName() + "." + f.getMethodName()
                        + ":" + f.getFileName() + ":" + f.getLineNumber()).toList());
        assertThat(Arrays.stream(replayed.getStackTrace()).map(StackTraceElement::toString).toList())
                .isEqualTo(Arrays.stream(original.getStackTrace()).map(StackTraceElement::toString).toList());
        // without the frames (logs from before), the replayed exception is the agent's own
        Throwable old = NetCodec.failure(FailureShape.text(recorded));
        assertThat(old).isInstanceOf(SocketException.class);
        assertThat(old.getStackTrace()[0].getClassName()).isNotEqualTo(original.getStackTrace()[0].getClassName());
    }

    @Test
    void framesThatDoNotParseLeaveTheExceptionAlone() {
        Throwable t = NetCodec.failure("java.io.IOException: broken pipe" + FailureShape.SEPARATOR + "garbage");
        assertThat(t).isInstanceOf(IOException.class).hasMessage("broken pipe");
        assertThat(t.getStackTrace()).isNotEmpty();
    }
}
