package dev.revenant.demo;

import java.time.Instant;
import java.util.UUID;

/**
 * The smallest demo: a program that knows nothing of Revenant and reads a clock and randomness.
 * Under the agent its start-up is recorded; later issues make its clock and UUID replay exactly.
 */
public final class Greeter {
    public static void main(String[] args) {
        String who = args.length > 0 ? args[0] : "world";
        System.out.println("hello, " + who + " — it is " + Instant.now() + ", your ticket is " + UUID.randomUUID());
    }
}
