package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/** Several client threads at once against a server, until a condition; what any of them saw wrong fails the test. */
final class ClientThreads {
    /** One client's loop: runs until {@code stop} is set or its server dies; adds to {@code failures} what it saw wrong. */
    interface Client {
        void run(int index, long seed, AtomicBoolean stop, List<Throwable> failures);
    }

    private ClientThreads() {}

    /** Starts {@code count} clients (seeds from {@code rnd}), runs {@code until}, then stops and joins them. */
    static void run(int count, String name, Random rnd, Client client, Runnable until) throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int index = i;
            long seed = rnd.nextLong();
            threads.add(new Thread(() -> client.run(index, seed, stop, failures), name + "-" + i));
        }
        threads.forEach(Thread::start);
        try {
            until.run();
        } finally {
            stop.set(true);
            for (Thread t : threads) {
                t.join(TimeUnit.SECONDS.toMillis(60));
                assertThat(t.isAlive()).as(t.getName() + " ended").isFalse();
            }
        }
        if (!failures.isEmpty()) {
            throw new AssertionError("a client saw a wrong answer", failures.get(0));
        }
    }
}
