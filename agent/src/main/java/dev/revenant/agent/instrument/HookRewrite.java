package dev.revenant.agent.instrument;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.BiPredicate;

import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.Label;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;

/**
 * Hooks around one JDK method, in plain ASM: what ByteBuddy's {@code Advice} (enter and exit
 * advice, {@code skipOn}, {@code onThrowable}) did for the socket classes, without loading
 * ByteBuddy. Built for one method (name and exact descriptor, or every constructor) and a hook
 * class on the boot class path:
 *
 * <pre>
 * HookRewrite.on("read", "(Ljava/nio/ByteBuffer;)I", NET)
 *     .skipIf("readEnter", field("fdVal", "I"), arg(0))   // Object readEnter(int, Object)
 *     .outcome("readExit", field("fdVal", "I"), arg(0));  // int readExit(int ret, int, Object)
 *                                                        // Throwable readExitThrown(Throwable, int, Object)
 * </pre>
 *
 * Each hook gets the listed {@link Operand}s; a primitive or an array of primitives keeps its
 * type, every other reference is passed as {@code Object} (the JDK's own types are often not
 * public), a text as {@code String}.
 *
 * <ul>
 *   <li>{@link #atEntry}: {@code void hook(ops)} first thing.</li>
 *   <li>{@link #replaceArg}: {@code Object hook(ops)} first thing; the result, cast to the
 *       parameter's type, replaces argument {@code i}.</li>
 *   <li>{@link #skipIf}: {@code Object hook(ops)} first thing; if it is not null the method's code
 *       does not run and it returns {@code replayedInt/Boolean/Object/Void(result)} of the
 *       {@link #hookOwner} (which may throw it instead).</li>
 *   <li>{@link #exit}: before each return: {@code R hook(R ret, ops)}, whose answer is returned
 *       ({@code void hook(ops)} for a void method). Not on exceptional exits.</li>
 *   <li>{@link #outcome}: that, and {@code Throwable hookThrown(Throwable, ops)} for whatever the
 *       method lets escape, whose answer is thrown. The handler for it covers the method's code
 *       (not the inserted calls, so an exit hook's deliberate throw is not seen twice) and is
 *       added after the method's own handlers, so it sees only what escapes them.</li>
 * </ul>
 *
 * <p>The skipped path is decided at the method's start, where the frame is the one the JVM
 * derives from the descriptor; the frames added (after the skip test and at the handler) declare
 * exactly those locals, so the method's own compressed frames that follow stay valid, and no
 * local is added. The hooks are expected to catch their own failures ({@code NetEntry} does):
 * nothing around the inserted calls catches, which stands in for Advice's
 * {@code suppress = Throwable.class}.
 */
final class HookRewrite implements ClassRewrite {

    /** A value handed to a hook. */
    record Operand(char kind, String name, String desc, int index) {
        /** {@code this}. */
        static Operand self() {
            return new Operand('t', null, "Ljava/lang/Object;", 0);
        }

        /** An instance field of the class (or a superclass: {@code SocketImpl.fd}), by exact descriptor. */
        static Operand field(String name, String desc) {
            return new Operand('f', name, desc, 0);
        }

        /** Parameter {@code i} (0 is the first declared parameter, not {@code this}). */
        static Operand arg(int i) {
            return new Operand('a', null, null, i);
        }

        /** A constant string. */
        static Operand text(String s) {
            return new Operand('s', s, "Ljava/lang/String;", 0);
        }
    }

    private final String methodName;
    /** Exact descriptor, or null: every overload (only for {@code <init>}). */
    private final String methodDesc;
    private final String hookOwner;

    private String atEntry;
    private Operand[] atEntryOps;
    private String replaceArg;
    private int replacedArg;
    private Operand[] replaceOps;
    private String skipIf;
    private Operand[] skipOps;
    private String exit;
    private Operand[] exitOps;
    private boolean onThrown;

    private HookRewrite(String methodName, String methodDesc, String hookOwner) {
        this.methodName = methodName;
        this.methodDesc = methodDesc;
        this.hookOwner = hookOwner;
    }

    /** Hooks for method {@code name} with descriptor {@code desc} (null: every constructor), calling into {@code hookOwner}. */
    static HookRewrite on(String name, String desc, String hookOwner) {
        if (desc == null && !name.equals("<init>")) {
            throw new IllegalArgumentException("a descriptor is needed for " + name);
        }
        return new HookRewrite(name, desc, hookOwner);
    }

    HookRewrite atEntry(String hook, Operand... ops) {
        atEntry = hook;
        atEntryOps = ops;
        return this;
    }

    HookRewrite replaceArg(int i, String hook, Operand... ops) {
        replaceArg = hook;
        replacedArg = i;
        replaceOps = ops;
        return this;
    }

    HookRewrite skipIf(String hook, Operand... ops) {
        noConstructor();
        skipIf = hook;
        skipOps = ops;
        return this;
    }

    HookRewrite exit(String hook, Operand... ops) {
        exit = hook;
        exitOps = ops;
        return this;
    }

    HookRewrite outcome(String hook, Operand... ops) {
        noConstructor();
        exit(hook, ops);
        onThrown = true;
        return this;
    }

    private void noConstructor() {
        if (methodName.equals("<init>")) {
            throw new IllegalArgumentException("constructors get entry and exit hooks only");
        }
    }

    @Override
    public ClassVisitor wrap(ClassVisitor next) {
        return new Visitor(next);
    }

    @Override
    public BiPredicate<String, String> methods(ClassReader reader) {
        return this::matches;
    }

    private boolean matches(String name, String desc) {
        return name.equals(methodName) && (methodDesc == null || methodDesc.equals(desc));
    }

    @Override
    public String toString() {
        return "hooks on " + methodName + (methodDesc == null ? "(any)" : methodDesc) + " -> "
                + hookOwner.substring(hookOwner.lastIndexOf('/') + 1) + "."
                + String.join("/", names());
    }

    private List<String> names() {
        List<String> l = new ArrayList<>();
        for (String s : new String[] {atEntry, replaceArg, skipIf, exit}) {
            if (s != null) {
                l.add(s);
            }
        }
        return l;
    }

    /** The type a hook declares for a value of JVM type {@code desc}: primitives and their arrays as they are, other references as Object. */
    private static String hookType(String desc) {
        if (desc.charAt(0) == 'L' || desc.charAt(0) == '[' && desc.charAt(desc.length() - 1) == ';') {
            return "Ljava/lang/Object;";
        }
        return desc;
    }

    private final class Visitor extends ClassVisitor implements Tracking {
        private String owner;
        private boolean changed;

        Visitor(ClassVisitor next) {
            super(Opcodes.ASM9, next);
        }

        @Override
        public void visit(int version, int access, String name, String signature, String superName,
                          String[] interfaces) {
            owner = name;
            super.visit(version, access, name, signature, superName, interfaces);
        }

        @Override
        public MethodVisitor visitMethod(int access, String name, String desc, String signature, String[] exceptions) {
            MethodVisitor mv = super.visitMethod(access, name, desc, signature, exceptions);
            if (mv == null || !ClassRewrite.hasCode(access) || !matches(name, desc)) {
                return mv;
            }
            changed = true;
            return new Inserting(mv, owner, access, desc);
        }

        @Override
        public boolean changed() {
            return changed;
        }

        @Override
        public String target() {
            return HookRewrite.this.toString();
        }
    }

    private final class Inserting extends MethodVisitor {
        private final String owner;
        private final boolean isStatic;
        private final Type[] params;
        private final Type returnType;
        /** The locals at the method's start, as a stack map frame lists them. */
        private final Object[] initialLocals;
        /** Ranges the catch-all handler covers: the method's code without the inserted exits. */
        private final List<Label[]> ranges = new ArrayList<>();
        private Label rangeStart;
        private boolean codeInRange;
        private int extraStack;

        Inserting(MethodVisitor next, String owner, int access, String desc) {
            super(Opcodes.ASM9, next);
            this.owner = owner;
            this.isStatic = (access & Opcodes.ACC_STATIC) != 0;
            this.params = Type.getArgumentTypes(desc);
            this.returnType = Type.getReturnType(desc);
            List<Object> locals = new ArrayList<>();
            if (!isStatic) {
                locals.add(owner);
            }
            for (Type p : params) {
                locals.add(frameType(p));
            }
            this.initialLocals = locals.toArray();
        }

        private Object frameType(Type t) {
            return switch (t.getSort()) {
                case Type.BOOLEAN, Type.BYTE, Type.CHAR, Type.SHORT, Type.INT -> Opcodes.INTEGER;
                case Type.LONG -> Opcodes.LONG;
                case Type.FLOAT -> Opcodes.FLOAT;
                case Type.DOUBLE -> Opcodes.DOUBLE;
                case Type.ARRAY -> t.getDescriptor();
                default -> t.getInternalName();
            };
        }

        private int slotOf(int param) {
            int slot = isStatic ? 0 : 1;
            for (int i = 0; i < param; i++) {
                slot += params[i].getSize();
            }
            return slot;
        }

        /** Pushes the operands; returns their part of the hook's descriptor. */
        private String push(Operand[] ops) {
            StringBuilder d = new StringBuilder();
            int size = 0;
            for (Operand op : ops) {
                switch (op.kind()) {
                    case 't' -> {
                        super.visitVarInsn(Opcodes.ALOAD, 0);
                        d.append(op.desc());
                        size += 1;
                    }
                    case 'f' -> {
                        super.visitVarInsn(Opcodes.ALOAD, 0);
                        super.visitFieldInsn(Opcodes.GETFIELD, owner, op.name(), op.desc());
                        d.append(hookType(op.desc()));
                        size += Type.getType(op.desc()).getSize();
                    }
                    case 'a' -> {
                        Type p = params[op.index()];
                        super.visitVarInsn(p.getOpcode(Opcodes.ILOAD), slotOf(op.index()));
                        d.append(hookType(p.getDescriptor()));
                        size += p.getSize();
                    }
                    case 's' -> {
                        super.visitLdcInsn(op.name());
                        d.append(op.desc());
                        size += 1;
                    }
                    default -> throw new IllegalStateException("operand " + op);
                }
            }
            extraStack = Math.max(extraStack, size + 2);
            return d.toString();
        }

        private void call(String hook, String desc) {
            super.visitMethodInsn(Opcodes.INVOKESTATIC, hookOwner, hook, desc, false);
        }

        @Override
        public void visitCode() {
            super.visitCode();
            if (atEntry != null) {
                call(atEntry, "(" + push(atEntryOps) + ")V");
            }
            if (replaceArg != null) {
                Type p = params[replacedArg];
                call(replaceArg, "(" + push(replaceOps) + ")Ljava/lang/Object;");
                super.visitTypeInsn(Opcodes.CHECKCAST, p.getInternalName());
                super.visitVarInsn(Opcodes.ASTORE, slotOf(replacedArg));
            }
            if (skipIf != null) {
                Label run = new Label();
                call(skipIf, "(" + push(skipOps) + ")Ljava/lang/Object;");
                super.visitInsn(Opcodes.DUP);
                super.visitJumpInsn(Opcodes.IFNULL, run);
                returnReplayed();
                super.visitLabel(run);
                super.visitFrame(Opcodes.F_FULL, initialLocals.length, initialLocals, 1, new Object[] {"java/lang/Object"});
                super.visitInsn(Opcodes.POP);
            }
            if (onThrown) {
                startRange();
            }
        }

        /** Stack: the non-null result of the skip hook. */
        private void returnReplayed() {
            switch (returnType.getSort()) {
                case Type.VOID -> {
                    call("replayedVoid", "(Ljava/lang/Object;)V");
                    super.visitInsn(Opcodes.RETURN);
                }
                case Type.INT -> {
                    call("replayedInt", "(Ljava/lang/Object;)I");
                    super.visitInsn(Opcodes.IRETURN);
                }
                case Type.BOOLEAN -> {
                    call("replayedBoolean", "(Ljava/lang/Object;)Z");
                    super.visitInsn(Opcodes.IRETURN);
                }
                case Type.OBJECT, Type.ARRAY -> {
                    call("replayedObject", "(Ljava/lang/Object;)Ljava/lang/Object;");
                    super.visitTypeInsn(Opcodes.CHECKCAST, returnType.getInternalName());
                    super.visitInsn(Opcodes.ARETURN);
                }
                default -> throw new IllegalArgumentException("no replayed result for a method returning "
                        + returnType.getDescriptor().toLowerCase(Locale.ROOT));
            }
        }

        private void startRange() {
            rangeStart = new Label();
            super.visitLabel(rangeStart);
            codeInRange = false;
        }

        private void endRange() {
            Label end = new Label();
            super.visitLabel(end);
            if (codeInRange) {
                ranges.add(new Label[] {rangeStart, end});
            }
            rangeStart = null;
        }

        @Override
        public void visitInsn(int opcode) {
            if (exit != null && opcode >= Opcodes.IRETURN && opcode <= Opcodes.RETURN) {
                if (onThrown) {
                    endRange();
                }
                if (returnType.getSort() == Type.VOID) {
                    call(exit, "(" + push(exitOps) + ")V");
                } else {
                    String r = hookType(returnType.getDescriptor());
                    call(exit, "(" + r + push(exitOps) + ")" + r);
                    if (returnType.getSort() == Type.OBJECT || returnType.getSort() == Type.ARRAY) {
                        super.visitTypeInsn(Opcodes.CHECKCAST, returnType.getInternalName());
                    }
                }
                super.visitInsn(opcode);
                if (onThrown) {
                    startRange();
                }
                return;
            }
            codeInRange = true;
            super.visitInsn(opcode);
        }

        @Override
        public void visitMaxs(int maxStack, int maxLocals) {
            if (onThrown) {
                endRange();
                if (!ranges.isEmpty()) {
                    Label handler = new Label();
                    // Added last: the method's own handlers, nested inside, are searched first.
                    for (Label[] r : ranges) {
                        super.visitTryCatchBlock(r[0], r[1], handler, "java/lang/Throwable");
                    }
                    super.visitLabel(handler);
                    super.visitFrame(Opcodes.F_FULL, initialLocals.length, initialLocals, 1,
                            new Object[] {"java/lang/Throwable"});
                    call(exit + "Thrown", "(Ljava/lang/Throwable;" + push(exitOps) + ")Ljava/lang/Throwable;");
                    super.visitInsn(Opcodes.ATHROW);
                }
            }
            super.visitMaxs(Math.max(maxStack + extraStack, 1 + extraStack), maxLocals);
        }

        // Every other instruction of the method's own code puts the current range to use.

        @Override
        public void visitIntInsn(int opcode, int operand) {
            codeInRange = true;
            super.visitIntInsn(opcode, operand);
        }

        @Override
        public void visitVarInsn(int opcode, int varIndex) {
            codeInRange = true;
            super.visitVarInsn(opcode, varIndex);
        }

        @Override
        public void visitTypeInsn(int opcode, String type) {
            codeInRange = true;
            super.visitTypeInsn(opcode, type);
        }

        @Override
        public void visitFieldInsn(int opcode, String fieldOwner, String name, String descriptor) {
            codeInRange = true;
            super.visitFieldInsn(opcode, fieldOwner, name, descriptor);
        }

        @Override
        public void visitMethodInsn(int opcode, String methodOwner, String name, String descriptor, boolean isInterface) {
            codeInRange = true;
            super.visitMethodInsn(opcode, methodOwner, name, descriptor, isInterface);
        }

        @Override
        public void visitInvokeDynamicInsn(String name, String descriptor, org.objectweb.asm.Handle bsm, Object... args) {
            codeInRange = true;
            super.visitInvokeDynamicInsn(name, descriptor, bsm, args);
        }

        @Override
        public void visitJumpInsn(int opcode, Label label) {
            codeInRange = true;
            super.visitJumpInsn(opcode, label);
        }

        @Override
        public void visitLdcInsn(Object value) {
            codeInRange = true;
            super.visitLdcInsn(value);
        }

        @Override
        public void visitIincInsn(int varIndex, int increment) {
            codeInRange = true;
            super.visitIincInsn(varIndex, increment);
        }

        @Override
        public void visitTableSwitchInsn(int min, int max, Label dflt, Label... labels) {
            codeInRange = true;
            super.visitTableSwitchInsn(min, max, dflt, labels);
        }

        @Override
        public void visitLookupSwitchInsn(Label dflt, int[] keys, Label[] labels) {
            codeInRange = true;
            super.visitLookupSwitchInsn(dflt, keys, labels);
        }

        @Override
        public void visitMultiANewArrayInsn(String descriptor, int numDimensions) {
            codeInRange = true;
            super.visitMultiANewArrayInsn(descriptor, numDimensions);
        }
    }

    /**
     * Replaces every call of the static method {@code owner.name desc} in the class with a call of
     * {@code newOwner.newName} (same descriptor): what ByteBuddy's {@code MemberSubstitution} did
     * for the selector's native {@code EPoll.wait}.
     */
    static ClassRewrite replaceCalls(String owner, String name, String desc, String newOwner, String newName) {
        return new CallReplacement(Opcodes.INVOKESTATIC, owner, name, desc, newOwner, newName, desc);
    }

    /**
     * Replaces every {@code invokevirtual owner.name desc} with {@code invokestatic
     * newOwner.newName(Object, args...)}: the receiver becomes the first argument, passed as
     * {@code Object} (the owner need not be accessible to the hook's class).
     */
    static ClassRewrite replaceVirtualCalls(String owner, String name, String desc, String newOwner, String newName) {
        return new CallReplacement(Opcodes.INVOKEVIRTUAL, owner, name, desc, newOwner, newName,
                "(Ljava/lang/Object;" + desc.substring(1));
    }

    private static final class CallReplacement implements ClassRewrite {
        private final int opcode;
        private final String owner;
        private final String name;
        private final String desc;
        private final String newOwner;
        private final String newName;
        private final String newDesc;

        CallReplacement(int opcode, String owner, String name, String desc, String newOwner, String newName,
                        String newDesc) {
            this.opcode = opcode;
            this.owner = owner;
            this.name = name;
            this.desc = desc;
            this.newOwner = newOwner;
            this.newName = newName;
            this.newDesc = newDesc;
        }

        @Override
        public ClassVisitor wrap(ClassVisitor next) {
            return new Replacing(next);
        }

        @Override
        public String toString() {
            return "calls of " + owner + "." + name + desc + " -> " + newOwner + "." + newName;
        }

        private final class Replacing extends ClassVisitor implements Tracking {
            private boolean changed;

            Replacing(ClassVisitor next) {
                super(Opcodes.ASM9, next);
            }

            @Override
            public MethodVisitor visitMethod(int access, String m, String d, String signature, String[] exceptions) {
                MethodVisitor mv = super.visitMethod(access, m, d, signature, exceptions);
                return mv == null ? null : new MethodVisitor(Opcodes.ASM9, mv) {
                    @Override
                    public void visitMethodInsn(int opcode, String o, String n, String ds, boolean itf) {
                        if (opcode == CallReplacement.this.opcode && o.equals(owner) && n.equals(name)
                                && ds.equals(desc)) {
                            changed = true;
                            super.visitMethodInsn(Opcodes.INVOKESTATIC, newOwner, newName, newDesc, false);
                        } else {
                            super.visitMethodInsn(opcode, o, n, ds, itf);
                        }
                    }
                };
            }

            @Override
            public boolean changed() {
                return changed;
            }

            @Override
            public String target() {
                return CallReplacement.this.toString();
            }
        }
    }
}
