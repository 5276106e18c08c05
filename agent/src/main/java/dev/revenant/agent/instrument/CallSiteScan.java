package dev.revenant.agent.instrument;

import java.util.HashSet;
import java.util.Set;

import org.objectweb.asm.ClassReader;

/**
 * Finds, from a class file's raw bytes, the methods whose code invokes something a call-site
 * rewrite may change, so that ASM parses and rewrites only those and copies every other method
 * as it is (a {@code ClassWriter} built on the reader copies a method whose visitor it gets back
 * unwrapped, without decoding its code). Most methods of most classes call none of them: of
 * {@code java.util.Arrays}' ~200 methods a handful hash anything.
 *
 * <p>Two steps: the constant pool is scanned for method references and {@code invokedynamic}
 * entries the caller deems relevant (none: the class is left alone without further work); then
 * each method's bytecode is walked instruction by instruction, looking at the constant-pool
 * index of every invoke. If the walk does not end exactly at the end of the code (a class file
 * this scanner misreads), the answer is "every method", never fewer.
 */
final class CallSiteScan {
    /** Answer for "visit every method". */
    static final Set<String> ALL = Set.of("*");

    /** Which method references matter (name and descriptor of the invoked method, its owner). */
    interface Relevant {
        boolean methodRef(String owner, String name, String descriptor);
    }

    private CallSiteScan() {}

    /**
     * The methods ({@code name + descriptor}) to visit: empty if none, {@link #ALL} if the scan
     * cannot tell. {@code handlesRelevant}: an {@code invokedynamic} counts when the class has a
     * method-handle constant of a relevant method (its bootstrap may receive it).
     */
    static Set<String> methodsToVisit(ClassReader reader, Relevant relevant, boolean handlesRelevant) {
        return methodsToVisit(reader, relevant, handlesRelevant, false);
    }

    /**
     * {@code controlFlow}: also the methods {@link BackEdgeRewrite} changes — those with a
     * backward branch or a monitor instruction, the {@code synchronized} ones and the static
     * initialiser.
     */
    static Set<String> methodsToVisit(ClassReader reader, Relevant relevant, boolean handlesRelevant,
                                      boolean controlFlow) {
        try {
            return scan(reader, relevant, false, handlesRelevant, controlFlow);
        } catch (RuntimeException e) {
            return ALL;
        }
    }

    private static Set<String> scan(ClassReader reader, Relevant relevant, boolean dynamicRelevant,
                                    boolean handlesRelevant, boolean controlFlow) {
        int count = reader.getItemCount();
        boolean[] marked = new boolean[count];
        boolean any = false;
        char[] buf = new char[reader.getMaxStringLength()];
        for (int i = 1; i < count; i++) {
            int offset = reader.getItem(i);
            if (offset == 0) {
                continue; // the second slot of a long or double
            }
            int tag = reader.readByte(offset - 1);
            if (tag == 10 || tag == 11) { // Methodref, InterfaceMethodref
                String owner = reader.readClass(offset, buf);
                int nat = reader.getItem(reader.readUnsignedShort(offset + 2));
                String name = reader.readUTF8(nat, buf);
                String desc = reader.readUTF8(nat + 2, buf);
                if (relevant.methodRef(owner, name, desc)) {
                    marked[i] = true;
                    any = true;
                }
            } else if (tag == 18 && dynamicRelevant) { // InvokeDynamic
                marked[i] = true;
                any = true;
            }
        }
        if (!any && !controlFlow) {
            return Set.of();
        }
        if (!dynamicRelevant && handlesRelevant) {
            // invokedynamic sites whose bootstrap arguments hand over a relevant method (a
            // lambda of Object::hashCode): every invokedynamic of the class is looked at
            for (int i = 1; i < count; i++) {
                int offset = reader.getItem(i);
                if (offset != 0 && reader.readByte(offset - 1) == 15 && marked[reader.readUnsignedShort(offset + 1)]) {
                    for (int j = 1; j < count; j++) {
                        int o = reader.getItem(j);
                        if (o != 0 && reader.readByte(o - 1) == 18) {
                            marked[j] = true;
                        }
                    }
                    break;
                }
            }
        }
        Set<String> methods = new HashSet<>();
        int p = reader.header + 6;
        p += 2 + 2 * reader.readUnsignedShort(p); // interfaces
        int fields = reader.readUnsignedShort(p);
        p += 2;
        for (int f = 0; f < fields; f++) {
            p = skipAttributes(reader, p + 6);
        }
        int methodCount = reader.readUnsignedShort(p);
        p += 2;
        for (int m = 0; m < methodCount; m++) {
            int access = reader.readUnsignedShort(p);
            String name = reader.readUTF8(p + 2, buf);
            String desc = reader.readUTF8(p + 4, buf);
            int attributes = reader.readUnsignedShort(p + 6);
            p += 8;
            for (int a = 0; a < attributes; a++) {
                String attrName = reader.readUTF8(p, buf);
                int length = reader.readInt(p + 2);
                int start = p + 6;
                if ("Code".equals(attrName)) {
                    int codeLength = reader.readInt(start + 4);
                    int code = start + 8;
                    boolean wrapped = controlFlow && ((access & 0x0020) != 0 || "<clinit>".equals(name));
                    if (wrapped || invokesMarked(reader, code, codeLength, marked, controlFlow)) {
                        methods.add(name + desc);
                    }
                }
                p = start + length;
            }
        }
        return methods;
    }

    private static int skipAttributes(ClassReader reader, int p) {
        int n = reader.readUnsignedShort(p);
        p += 2;
        for (int i = 0; i < n; i++) {
            p += 6 + reader.readInt(p + 2);
        }
        return p;
    }

    /**
     * Whether the code at {@code [code, code + length)} invokes a marked constant (or, with
     * {@code controlFlow}, branches backwards or enters or exits a monitor); throws if misread.
     */
    private static boolean invokesMarked(ClassReader reader, int code, int length, boolean[] marked,
                                         boolean controlFlow) {
        int end = code + length;
        int pc = code;
        boolean found = false;
        while (pc < end) {
            int op = reader.readByte(pc);
            switch (op) {
                case 0xB6, 0xB7, 0xB8 -> { // invokevirtual, invokespecial, invokestatic
                    found |= marked[reader.readUnsignedShort(pc + 1)];
                    pc += 3;
                }
                case 0xB9, 0xBA -> { // invokeinterface, invokedynamic
                    found |= marked[reader.readUnsignedShort(pc + 1)];
                    pc += 5;
                }
                case 0xAA -> { // tableswitch
                    int q = pc + 1 + ((4 - ((pc + 1 - code) & 3)) & 3);
                    int low = reader.readInt(q + 4);
                    int high = reader.readInt(q + 8);
                    if (controlFlow) {
                        found |= reader.readInt(q) < 0;
                        for (int i = 0; i <= high - low; i++) {
                            found |= reader.readInt(q + 12 + 4 * i) < 0;
                        }
                    }
                    pc = q + 12 + 4 * (high - low + 1);
                }
                case 0xAB -> { // lookupswitch
                    int q = pc + 1 + ((4 - ((pc + 1 - code) & 3)) & 3);
                    int pairs = reader.readInt(q + 4);
                    if (controlFlow) {
                        found |= reader.readInt(q) < 0;
                        for (int i = 0; i < pairs; i++) {
                            found |= reader.readInt(q + 12 + 8 * i) < 0;
                        }
                    }
                    pc = q + 8 + 8 * pairs;
                }
                case 0xC4 -> pc += reader.readByte(pc + 1) == 0x84 ? 6 : 4; // wide (iinc or a load/store/ret)
                case 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7,
                        0xC6, 0xC7 -> { // if*, goto, ifnull, ifnonnull: a negative offset is a back-edge
                    found |= controlFlow && reader.readShort(pc + 1) < 0;
                    pc += 3;
                }
                case 0xC8 -> { // goto_w
                    found |= controlFlow && reader.readInt(pc + 1) < 0;
                    pc += 5;
                }
                case 0xC2, 0xC3 -> { // monitorenter, monitorexit
                    found |= controlFlow;
                    pc += 1;
                }
                default -> {
                    int len = LENGTHS[op];
                    if (len == 0) {
                        throw new IllegalStateException("opcode " + op);
                    }
                    pc += len;
                }
            }
        }
        if (pc != end) {
            throw new IllegalStateException("code walk overran");
        }
        return found;
    }

    /** Length of each fixed-size instruction, opcode included; 0: variable or undefined. */
    private static final byte[] LENGTHS = new byte[256];

    static {
        for (int op = 0x00; op <= 0x0F; op++) {
            LENGTHS[op] = 1; // nop, aconst_null, iconst_*, lconst_*, fconst_*, dconst_*
        }
        LENGTHS[0x10] = 2; // bipush
        LENGTHS[0x11] = 3; // sipush
        LENGTHS[0x12] = 2; // ldc
        LENGTHS[0x13] = 3; // ldc_w
        LENGTHS[0x14] = 3; // ldc2_w
        for (int op = 0x15; op <= 0x19; op++) {
            LENGTHS[op] = 2; // iload .. aload
        }
        for (int op = 0x1A; op <= 0x35; op++) {
            LENGTHS[op] = 1; // *load_n, *aload
        }
        for (int op = 0x36; op <= 0x3A; op++) {
            LENGTHS[op] = 2; // istore .. astore
        }
        for (int op = 0x3B; op <= 0x83; op++) {
            LENGTHS[op] = 1; // *store_n, *astore, stack ops, arithmetic
        }
        LENGTHS[0x84] = 3; // iinc
        for (int op = 0x85; op <= 0x98; op++) {
            LENGTHS[op] = 1; // conversions, comparisons
        }
        for (int op = 0x99; op <= 0xA8; op++) {
            LENGTHS[op] = 3; // if*, goto, jsr
        }
        LENGTHS[0xA9] = 2; // ret
        for (int op = 0xAC; op <= 0xB1; op++) {
            LENGTHS[op] = 1; // *return
        }
        for (int op = 0xB2; op <= 0xB5; op++) {
            LENGTHS[op] = 3; // get/put static/field
        }
        LENGTHS[0xBB] = 3; // new
        LENGTHS[0xBC] = 2; // newarray
        LENGTHS[0xBD] = 3; // anewarray
        LENGTHS[0xBE] = 1; // arraylength
        LENGTHS[0xBF] = 1; // athrow
        LENGTHS[0xC0] = 3; // checkcast
        LENGTHS[0xC1] = 3; // instanceof
        LENGTHS[0xC2] = 1; // monitorenter
        LENGTHS[0xC3] = 1; // monitorexit
        LENGTHS[0xC5] = 4; // multianewarray
        LENGTHS[0xC6] = 3; // ifnull
        LENGTHS[0xC7] = 3; // ifnonnull
        LENGTHS[0xC8] = 5; // goto_w
        LENGTHS[0xC9] = 5; // jsr_w
    }
}
