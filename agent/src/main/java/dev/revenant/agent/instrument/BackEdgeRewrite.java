package dev.revenant.agent.instrument;

import java.util.HashSet;
import java.util.Set;

import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.Label;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;

/**
 * Preemption points in app classes for the serial scheduler ({@code dev.revenant.bridge.Preempt}):
 *
 * <ul>
 *   <li>before every backward branch (a jump or switch to a label already seen: a loop's
 *       back-edge), a call to {@code Preempt.backEdge()};</li>
 *   <li>after every {@code monitorenter} a call to {@code Preempt.entered()}, before every
 *       {@code monitorexit} one to {@code Preempt.exited()};</li>
 *   <li>{@code synchronized} methods and static initialisers: {@code entered()} at the start,
 *       {@code exited()} before each return and in a catch-all handler (which rethrows) around the
 *       whole body, so that the thread is never preempted while it holds the method's monitor or a
 *       class-initialisation lock. Back-edges of a static initialiser are not counted at all.</li>
 * </ul>
 *
 * No new branches in the original code and no stack growth there (the calls take and leave
 * nothing), so its frames stay valid; the one handler added at the end of a method gets a full
 * frame with no locals (every local is assignable to "none", so the verifier accepts it from any
 * point of the body) and the thrown exception on the stack.
 */
final class BackEdgeRewrite extends ClassVisitor {
    static final String PREEMPT = "dev/revenant/bridge/Preempt";

    private int version;
    boolean changed;

    BackEdgeRewrite(ClassVisitor next) {
        super(Opcodes.ASM9, next);
    }

    @Override
    public void visit(int version, int access, String name, String signature, String superName, String[] interfaces) {
        this.version = version;
        super.visit(version, access, name, signature, superName, interfaces);
    }

    @Override
    public MethodVisitor visitMethod(int access, String name, String descriptor, String signature,
                                     String[] exceptions) {
        MethodVisitor mv = super.visitMethod(access, name, descriptor, signature, exceptions);
        if (mv == null || !ClassRewrite.hasCode(access)) {
            return mv;
        }
        boolean clinit = "<clinit>".equals(name);
        boolean wrap = clinit || (access & Opcodes.ACC_SYNCHRONIZED) != 0;
        return new Points(mv, !clinit, wrap);
    }

    private final class Points extends MethodVisitor {
        private final boolean countEdges;
        private final boolean wrap;
        private final Set<Label> seen = new HashSet<>();
        private Label start;

        Points(MethodVisitor next, boolean countEdges, boolean wrap) {
            super(Opcodes.ASM9, next);
            this.countEdges = countEdges;
            this.wrap = wrap;
        }

        private void call(String hook) {
            changed = true;
            super.visitMethodInsn(Opcodes.INVOKESTATIC, PREEMPT, hook, "()V", false);
        }

        @Override
        public void visitCode() {
            super.visitCode();
            if (wrap) {
                call("entered");
                start = new Label();
                super.visitLabel(start);
            }
        }

        @Override
        public void visitLabel(Label label) {
            seen.add(label);
            super.visitLabel(label);
        }

        @Override
        public void visitJumpInsn(int opcode, Label label) {
            if (countEdges && opcode != Opcodes.JSR && seen.contains(label)) {
                call("backEdge");
            }
            super.visitJumpInsn(opcode, label);
        }

        @Override
        public void visitTableSwitchInsn(int min, int max, Label dflt, Label... labels) {
            if (countEdges && backward(dflt, labels)) {
                call("backEdge");
            }
            super.visitTableSwitchInsn(min, max, dflt, labels);
        }

        @Override
        public void visitLookupSwitchInsn(Label dflt, int[] keys, Label[] labels) {
            if (countEdges && backward(dflt, labels)) {
                call("backEdge");
            }
            super.visitLookupSwitchInsn(dflt, keys, labels);
        }

        private boolean backward(Label dflt, Label[] labels) {
            if (seen.contains(dflt)) {
                return true;
            }
            for (Label l : labels) {
                if (seen.contains(l)) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public void visitInsn(int opcode) {
            if (opcode == Opcodes.MONITOREXIT) {
                call("exited");
                super.visitInsn(opcode);
            } else if (opcode == Opcodes.MONITORENTER) {
                super.visitInsn(opcode);
                call("entered");
            } else {
                if (wrap && opcode >= Opcodes.IRETURN && opcode <= Opcodes.RETURN) {
                    call("exited");
                }
                super.visitInsn(opcode);
            }
        }

        @Override
        public void visitMaxs(int maxStack, int maxLocals) {
            if (wrap) {
                Label end = new Label();
                Label handler = new Label();
                super.visitLabel(end);
                super.visitLabel(handler);
                if ((version & 0xFFFF) >= Opcodes.V1_6) {
                    super.visitFrame(Opcodes.F_FULL, 0, new Object[0], 1, new Object[] {"java/lang/Throwable"});
                }
                call("exited");
                super.visitInsn(Opcodes.ATHROW);
                // Last in the exception table: the body's own handlers still come first.
                super.visitTryCatchBlock(start, end, handler, null);
                maxStack = Math.max(maxStack, 1);
            }
            super.visitMaxs(maxStack, maxLocals);
        }
    }
}
