package dev.revenant.agent.instrument;

import org.objectweb.asm.ClassVisitor;

/**
 * A rewrite of one class in plain ASM: a visitor that passes the class on to {@code next}, changed.
 * The class is read and written with no frame or max computation (the writer copies unchanged
 * methods as they are), so a rewrite adds no new branch targets without writing their stack map
 * frames itself, and raises a method's max stack if it needs more. It must not add or remove
 * members: JDK classes are retransformed, and retransformation forbids it.
 *
 * <p>Implementations report whether they found what they were meant to change
 * ({@link Tracking#changed()}), so that a rewrite that matches nothing in a new JDK is reported
 * instead of silently leaving a category unrecorded.
 */
@FunctionalInterface
public interface ClassRewrite {

    /** Whether a method with these access flags has code to rewrite (not abstract, not native). */
    static boolean hasCode(int access) {
        return (access & (org.objectweb.asm.Opcodes.ACC_ABSTRACT | org.objectweb.asm.Opcodes.ACC_NATIVE)) == 0;
    }

    ClassVisitor wrap(ClassVisitor next);

    /**
     * The methods this rewrite may change in the class {@code reader} holds, as a test of name and
     * descriptor; null (the default) if it must see every method. When every rewrite of a class
     * names its methods, the others are copied without being decoded.
     */
    default java.util.function.BiPredicate<String, String> methods(org.objectweb.asm.ClassReader reader) {
        return null;
    }

    /** A visitor that can tell, after {@code visitEnd}, whether it changed the class. */
    interface Tracking {
        boolean changed();

        /** What it was looking for, for the report when it found nothing. */
        String target();

        /** Whether finding nothing is an error (false for a candidate that may have nothing on some JDK). */
        default boolean required() {
            return true;
        }
    }
}
