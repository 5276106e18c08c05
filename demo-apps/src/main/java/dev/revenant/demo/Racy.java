package dev.revenant.demo;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * Threads that race without any synchronization, on purpose: what it prints depends on how its
 * threads interleave, so two plain runs differ. Under Revenant's serial scheduler a replay must
 * print exactly what the recording printed.
 *
 * <ol>
 *   <li>4 threads increment one shared {@code int} with a read, a short park now and then, and a
 *       write: lost updates, their number set by who ran when.
 *   <li>4 threads claim keys in a shared {@link HashMap} with check-then-act (containsKey, a short
 *       sleep, put): which thread wins a key, and how many keys are claimed twice, is a race.
 *   <li>6 tasks on a 3-thread pool draw from {@link ThreadLocalRandom} and append to a shared
 *       {@link ArrayList}: the order of the list and which worker ran which task is a race.
 *   <li>3 threads take turns on a spin lock of their own (compare-and-set, {@code Thread.onSpinWait}
 *       or {@code Thread.yield} while it is taken), sometimes parking while they hold it: the count
 *       it guards is exact, the order they finish in is a race, and a scheduler that never let a
 *       spinner hand over would hang here.
 * </ol>
 *
 * Threads print as they finish; main prints the results line by line after joining them, and
 * last a line after its last clock read. Usage: {@code Racy [increments-per-thread]} (default 2000).
 */
public final class Racy {
    static int counter; // shared, unsynchronized
    static final Map<String, String> claims = new HashMap<>(); // shared, unsynchronized
    static final List<String> drawn = new ArrayList<>(); // shared, unsynchronized
    static int doubleClaims; // shared, unsynchronized

    public static void main(String[] args) throws Exception {
        int increments = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
        long started = System.nanoTime();

        // 1. The unsynchronized counter.
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            int id = i;
            threads.add(new Thread(() -> {
                for (int n = 0; n < increments; n++) {
                    int v = counter;
                    if ((n + id) % 97 == 0) {
                        LockSupport.parkNanos(20_000); // a scheduling point inside the read-modify-write
                    }
                    counter = v + 1;
                }
                System.out.println("inc-" + id + " finished, counter then " + counter);
            }, "inc-" + i));
        }
        threads.forEach(Thread::start);
        for (Thread t : threads) {
            t.join();
        }
        System.out.println("counter " + counter + " of " + 4 * increments + " (" + (4 * increments - counter)
                + " lost updates)");

        // 2. Check-then-act on a shared HashMap.
        threads.clear();
        for (int i = 0; i < 4; i++) {
            int id = i;
            threads.add(new Thread(() -> {
                int won = 0;
                for (int k = 0; k < 16; k++) {
                    String key = "k" + ((k * (id + 1) + id) % 16);
                    if (!claims.containsKey(key)) {
                        try {
                            Thread.sleep(k % 3 == id % 3 ? 1 : 0);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                        String before = claims.put(key, "claim-" + id);
                        if (before != null) {
                            doubleClaims++;
                        }
                        won++;
                    }
                }
                System.out.println("claim-" + id + " finished, put " + won + " key(s)");
            }, "claim-" + i));
        }
        threads.forEach(Thread::start);
        for (Thread t : threads) {
            t.join();
        }
        for (Map.Entry<String, String> e : new TreeMap<>(claims).entrySet()) {
            System.out.println("key " + e.getKey() + " held by " + e.getValue());
        }
        System.out.println("double claims " + doubleClaims);

        // 3. Tasks on a pool: random draws appended to a shared list.
        ExecutorService pool = Executors.newFixedThreadPool(3);
        for (int task = 0; task < 6; task++) {
            int id = task;
            pool.execute(() -> {
                int r = ThreadLocalRandom.current().nextInt(1000);
                if (r % 2 == 0) {
                    LockSupport.parkNanos(100_000L * (r % 7));
                }
                long l = ThreadLocalRandom.current().nextLong();
                drawn.add("task " + id + " on " + Thread.currentThread().getName() + " drew " + r + " then " + l);
            });
        }
        pool.shutdown();
        if (!pool.awaitTermination(60, TimeUnit.SECONDS)) {
            System.out.println("pool did not finish");
            System.exit(1);
        }
        for (String d : drawn) {
            System.out.println(d);
        }
        // 4. A spin lock: the holder sometimes parks inside, the others spin until it lets go.
        AtomicBoolean spinLock = new AtomicBoolean();
        int[] guarded = new int[1];
        threads.clear();
        for (int i = 0; i < 3; i++) {
            int id = i;
            threads.add(new Thread(() -> {
                for (int n = 0; n < 300; n++) {
                    while (!spinLock.compareAndSet(false, true)) {
                        if (id == 2) {
                            Thread.yield();
                        } else {
                            Thread.onSpinWait();
                        }
                    }
                    int v = guarded[0];
                    if ((n + id) % 50 == 0) {
                        LockSupport.parkNanos(20_000); // holding the spin lock
                    }
                    guarded[0] = v + 1;
                    spinLock.set(false);
                }
                System.out.println("spin-" + id + " finished, count then " + guarded[0]);
            }, "spin-" + i));
        }
        threads.forEach(Thread::start);
        for (Thread t : threads) {
            t.join();
        }
        System.out.println("spin-lock count " + guarded[0] + " of 900");

        long tookNanos = System.nanoTime() - started;
        long at = System.currentTimeMillis();
        System.out.println("racy done at " + at + " after " + tookNanos / 1000 + " us");
    }
}
