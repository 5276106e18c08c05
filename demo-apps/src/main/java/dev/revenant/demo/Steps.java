package dev.revenant.demo;

import java.util.concurrent.ThreadLocalRandom;

/**
 * Prints one line per step, each with a clock reading and a random number: a program whose output
 * grows with its log, so that a replay stopped part-way shows how far it got.
 */
public final class Steps {
    public static void main(String[] args) {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        for (int i = 0; i < steps; i++) {
            long now = System.currentTimeMillis();
            int r = ThreadLocalRandom.current().nextInt(1000);
            System.out.println("step " + i + " at " + now + " drew " + r);
        }
        System.out.println("done");
    }
}
