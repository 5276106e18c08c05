package dev.revenant.demo;

import java.security.SecureRandom;
import java.time.Instant;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Prints everything that differs between two plain runs of the same program: clock readings,
 * random numbers from every JDK source, UUIDs, SecureRandom bytes, identity hashes and the
 * iteration order of hash sets keyed by identity. A second thread does the same, so per-thread
 * ordering is exercised too. Under Revenant, a replay must print exactly what the recording did.
 *
 * <p>Sections are tagged, so a test can compare one category at a time.
 */
public final class Nondeterminism {
    enum Colour { RED, GREEN, BLUE, CYAN, MAGENTA, YELLOW, BLACK, WHITE }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        List<String> out = new ArrayList<>();
        work("main", rounds, out);
        List<String> other = new ArrayList<>();
        Thread t = new Thread(() -> work("worker", rounds, other), "worker");
        t.start();
        t.join();
        out.addAll(other);
        out.forEach(System.out::println);
    }

    static void work(String who, int rounds, List<String> out) {
        for (int r = 0; r < rounds; r++) {
            String p = who + " " + r + " ";
            out.add(p + "clock nanoTime " + System.nanoTime());
            out.add(p + "clock currentTimeMillis " + System.currentTimeMillis());
            out.add(p + "clock Instant.now " + Instant.now());
            out.add(p + "clock LocalDateTime.now " + LocalDateTime.now());
            out.add(p + "clock new Date " + new Date().getTime());
            long before = System.nanoTime();
            try {
                Thread.sleep(20);
                Object lock = new Object();
                synchronized (lock) {
                    lock.wait(10);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            java.util.concurrent.locks.LockSupport.parkNanos(5_000_000L);
            out.add(p + "clock waited " + (System.nanoTime() - before) / 1_000_000 + " ms");
            out.add(p + "random new Random " + new Random().nextLong());
            out.add(p + "random Math.random " + Math.random());
            out.add(p + "random ThreadLocalRandom " + ThreadLocalRandom.current().nextLong());
            out.add(p + "random UUID " + UUID.randomUUID());
            byte[] b = new byte[16];
            new SecureRandom().nextBytes(b);
            out.add(p + "random SecureRandom " + HexFormat.of().formatHex(b));
            Object o = new Object();
            out.add(p + "hash identityHashCode " + System.identityHashCode(o) + " " + o.hashCode());
            Set<Object> objects = new HashSet<>();
            List<Object> made = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                Object x = new Object();
                made.add(x);
                objects.add(x);
            }
            StringBuilder order = new StringBuilder();
            for (Object x : objects) {
                order.append(made.indexOf(x)).append(',');
            }
            out.add(p + "hash HashSet<Object> order " + order);
            Set<Colour> colours = new HashSet<>(List.of(Colour.values()));
            out.add(p + "hash HashSet<Enum> order " + colours + " " + Colour.GREEN.hashCode());
        }
    }
}
