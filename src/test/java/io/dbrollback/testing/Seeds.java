package io.dbrollback.testing;

import java.util.concurrent.ThreadLocalRandom;

/**
 * Seeds of the randomized suites: fixed by default so that CI is reproducible, {@code random} for a
 * soak. The seed in use is printed, so that any failure found by a soak can be replayed with
 * {@code -D<property>=<seed>}.
 */
public final class Seeds {

    private Seeds() {
    }

    public static long of(String property, long fixed) {
        String v = System.getProperty(property, "").trim();
        long seed = v.isEmpty() ? fixed : v.equals("random") ? ThreadLocalRandom.current().nextLong()
                : Long.parseLong(v);
        System.out.println("seed " + property + "=" + seed);
        return seed;
    }
}
