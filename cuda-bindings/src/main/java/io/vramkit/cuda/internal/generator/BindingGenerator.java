package io.vramkit.cuda.internal.generator;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Generates the jextract-shaped FFM bindings under {@code io.vramkit.cuda.internal.panama} from the CUDA headers,
 * driving libclang through FFM the way jextract does.
 *
 * <p>Inputs: {@code cuda_runtime_api.h} and {@code cuda.h} from a CUDA toolkit's include folder, the small
 * hand-written cuBLAS header {@code cuda-bindings/generator/cublas_vramkit.h}, and the include list
 * {@code cuda-bindings/generator/bindings.list}, which names every function, enum constant, macro and struct to
 * bind (as jextract's {@code --include-function} and friends do). Output is deterministic: entries are written in
 * name order, and no date or host detail appears, so {@code cuda-bindings/regenerate --check} can diff it.
 *
 * <p>Usage: {@code BindingGenerator --cuda-include DIR --generator-dir DIR --out DIR}. Not thread-safe; one run per
 * JVM.
 */
public final class BindingGenerator {

    static final String PACKAGE = "io.vramkit.cuda.internal.panama";
    static final String MAIN_FILE = "vramkit_bindings.h";

    private final LibClang clang;
    private final IncludeList list;
    private final Map<String, MemorySegment> functions = new TreeMap<>();
    private final Map<String, MemorySegment> records = new TreeMap<>();
    private final Map<String, Long> enumConstants = new TreeMap<>();
    private final Map<String, Long> enumConstantSizes = new TreeMap<>();
    private final Map<String, Long> macros = new TreeMap<>();
    private long cudaVersion;

    private BindingGenerator(LibClang clang, IncludeList list) {
        this.clang = clang;
        this.list = list;
    }

    /**
     * Runs the generator from the command line.
     *
     * @param args {@code --cuda-include DIR --generator-dir DIR --out DIR}
     * @throws Exception on any I/O or parse failure; the message names what is missing
     */
    public static void main(String[] args) throws Exception {
        Map<String, String> opts = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            opts.put(args[i], args[i + 1]);
        }
        for (String required : List.of("--cuda-include", "--generator-dir", "--out")) {
            if (!opts.containsKey(required)) {
                System.err.println("usage: BindingGenerator --cuda-include DIR --generator-dir DIR --out DIR "
                        + "(missing " + required + ")");
                System.exit(2);
            }
        }
        Map<String, String> files = generate(Path.of(opts.get("--cuda-include")),
                Path.of(opts.get("--generator-dir")));
        Path out = Path.of(opts.get("--out"));
        Files.createDirectories(out);
        for (Map.Entry<String, String> e : files.entrySet()) {
            Files.writeString(out.resolve(e.getKey()), e.getValue(), StandardCharsets.UTF_8);
        }
        System.out.println("BindingGenerator: wrote " + files.size() + " files to " + out);
    }

    /**
     * Generates every source file in memory.
     *
     * @param cudaInclude  the toolkit's include folder, holding {@code cuda_runtime_api.h} and {@code cuda.h}
     * @param generatorDir the folder holding {@code bindings.list} and {@code cublas_vramkit.h}
     * @return file name to content, in name order
     * @throws IOException           if an input cannot be read
     * @throws IllegalStateException if libclang is missing, a header does not parse, or a listed name is absent
     */
    public static Map<String, String> generate(Path cudaInclude, Path generatorDir) throws IOException {
        for (String header : List.of("cuda_runtime_api.h", "cuda.h")) {
            if (!Files.isRegularFile(cudaInclude.resolve(header))) {
                throw new IllegalStateException(header + " not found in " + cudaInclude
                        + "; point --cuda-include (or CUDA_HOME) at a CUDA 13 toolkit");
            }
        }
        IncludeList list = IncludeList.parse(generatorDir.resolve("bindings.list"));
        try (Arena arena = Arena.ofConfined()) {
            LibClang clang = LibClang.load(arena);
            BindingGenerator generator = new BindingGenerator(clang, list);
            MemorySegment tu = generator.parse(cudaInclude, generatorDir);
            try {
                return generator.emit();
            } finally {
                clang.dispose(tu);
            }
        }
    }

    /** Parses the headers and collects what the list names; the caller disposes the returned unit after emit. */
    private MemorySegment parse(Path cudaInclude, Path generatorDir) {
        StringBuilder main = new StringBuilder();
        main.append("#include <cuda_runtime_api.h>\n#include <cuda.h>\n#include \"cublas_vramkit.h\"\n");
        Set<String> macroNames = new java.util.TreeSet<>(list.macros());
        macroNames.add("CUDA_VERSION");
        for (String macro : macroNames) {
            main.append("static const long long __vramkit_macro_").append(macro).append(" = (long long)(")
                    .append(macro).append(");\n");
        }
        MemorySegment tu = clang.parse(MAIN_FILE, main.toString(), List.of("-x", "c", "-std=c11",
                "-I" + cudaInclude.toAbsolutePath(), "-I" + generatorDir.toAbsolutePath()));
        for (MemorySegment cursor : clang.children(clang.translationUnitCursor(tu))) {
            int kind = clang.kind(cursor);
            String name = clang.spelling(cursor);
            switch (kind) {
                case LibClang.CURSOR_FUNCTION_DECL -> {
                    if (list.wantsFunction(name)) {
                        functions.putIfAbsent(name, cursor);
                    }
                }
                case LibClang.CURSOR_STRUCT_DECL -> {
                    if (list.wantsStruct(name) && !clang.children(cursor).isEmpty()) {
                        records.put(name, cursor);
                    }
                }
                case LibClang.CURSOR_ENUM_DECL -> {
                    long size = clang.sizeOf(clang.type(cursor));
                    for (MemorySegment constant : clang.children(cursor)) {
                        if (clang.kind(constant) == LibClang.CURSOR_ENUM_CONSTANT_DECL) {
                            String constantName = clang.spelling(constant);
                            if (list.wantsConstant(constantName)) {
                                enumConstants.put(constantName, clang.enumConstantValue(constant));
                                enumConstantSizes.put(constantName, size);
                            }
                        }
                    }
                }
                case LibClang.CURSOR_VAR_DECL -> {
                    if (name.startsWith("__vramkit_macro_")) {
                        String macro = name.substring("__vramkit_macro_".length());
                        long value = clang.evaluateInt(cursor);
                        if (macro.equals("CUDA_VERSION")) {
                            cudaVersion = value;
                        }
                        if (list.macros().contains(macro)) {
                            macros.put(macro, value);
                        }
                    }
                }
                default -> {
                }
            }
        }
        List<String> missing = new ArrayList<>();
        for (String f : list.allFunctions()) {
            if (!functions.containsKey(f)) {
                missing.add("function " + f);
            }
        }
        for (String c : list.constants()) {
            if (!enumConstants.containsKey(c)) {
                missing.add("constant " + c);
            }
        }
        for (String s : list.structs()) {
            if (!records.containsKey(s)) {
                missing.add("struct " + s);
            }
        }
        if (!missing.isEmpty()) {
            clang.dispose(tu);
            throw new IllegalStateException("the headers do not declare what bindings.list names: " + missing);
        }
        return tu;
    }

    private String banner() {
        return "// Generated by io.vramkit.cuda.internal.generator.BindingGenerator (cuda-bindings/regenerate)\n"
                + "// from cuda_runtime_api.h and cuda.h (CUDA_VERSION " + cudaVersion + ") and "
                + "cuda-bindings/generator/cublas_vramkit.h,\n"
                + "// limited to cuda-bindings/generator/bindings.list. Do not edit: regenerate.\n";
    }

    private Map<String, String> emit() {
        Map<String, String> files = new TreeMap<>();
        for (IncludeList.Header header : list.headers()) {
            files.put(header.className() + ".java", emitHeader(header));
        }
        for (String struct : list.structs()) {
            files.put(struct + ".java", emitStruct(struct, records.get(struct)));
        }
        return files;
    }

    private String emitHeader(IncludeList.Header header) {
        String cls = header.className();
        StringBuilder sb = new StringBuilder();
        sb.append(banner());
        sb.append("package ").append(PACKAGE).append(";\n\n");
        sb.append("import io.vramkit.cuda.CudaLibrary;\n");
        sb.append("import io.vramkit.cuda.internal.NativeLibraries;\n");
        sb.append("import java.lang.foreign.AddressLayout;\n");
        sb.append("import java.lang.foreign.FunctionDescriptor;\n");
        sb.append("import java.lang.foreign.Linker;\n");
        sb.append("import java.lang.foreign.MemorySegment;\n");
        sb.append("import java.lang.foreign.ValueLayout;\n");
        sb.append("import java.lang.invoke.MethodHandle;\n\n");
        sb.append("/**\n * Bindings to ").append(header.library()).append(" (").append(header.functions().size())
                .append(" functions). Each function resolves its symbol and\n * method handle lazily, on first use, "
                        + "through {@link NativeLibraries}. Generated; thread-safe.\n */\n");
        sb.append("@SuppressWarnings({\"unused\", \"restricted\"})\n");
        sb.append("public final class ").append(cls).append(" {\n\n");
        sb.append("    private ").append(cls).append("() {\n    }\n\n");
        sb.append("    /** C {@code bool}. */\n    public static final ValueLayout.OfBoolean C_BOOL = "
                + "ValueLayout.JAVA_BOOLEAN;\n");
        sb.append("    /** C {@code char}. */\n    public static final ValueLayout.OfByte C_CHAR = "
                + "ValueLayout.JAVA_BYTE;\n");
        sb.append("    /** C {@code short}. */\n    public static final ValueLayout.OfShort C_SHORT = "
                + "ValueLayout.JAVA_SHORT;\n");
        sb.append("    /** C {@code int}. */\n    public static final ValueLayout.OfInt C_INT = "
                + "ValueLayout.JAVA_INT;\n");
        sb.append("    /** C {@code long} and {@code long long} (LP64). */\n    public static final "
                + "ValueLayout.OfLong C_LONG = ValueLayout.JAVA_LONG;\n");
        sb.append("    /** C {@code float}. */\n    public static final ValueLayout.OfFloat C_FLOAT = "
                + "ValueLayout.JAVA_FLOAT;\n");
        sb.append("    /** C {@code double}. */\n    public static final ValueLayout.OfDouble C_DOUBLE = "
                + "ValueLayout.JAVA_DOUBLE;\n");
        sb.append("    /** C pointers. */\n    public static final AddressLayout C_POINTER = ValueLayout.ADDRESS;\n\n");
        sb.append("    static MemorySegment findOrThrow(String symbol) {\n");
        sb.append("        return NativeLibraries.find(CudaLibrary.").append(header.libraryConstant())
                .append(", symbol);\n    }\n\n");
        sb.append("    /** The library these bindings call. */\n");
        sb.append("    public static final CudaLibrary LIBRARY = CudaLibrary.")
                .append(header.libraryConstant()).append(";\n\n");
        sb.append("    /** Every function bound here, in name order. */\n");
        sb.append("    public static final java.util.List<String> FUNCTIONS = java.util.List.of(");
        List<String> names = new ArrayList<>(new java.util.TreeSet<>(header.functions()));
        for (int i = 0; i < names.size(); i++) {
            sb.append(i == 0 ? "" : ",").append("\n            \"").append(names.get(i)).append("\"");
        }
        sb.append(");\n");
        for (String constant : new java.util.TreeSet<>(header.constants())) {
            long value = enumConstants.get(constant);
            boolean wide = enumConstantSizes.get(constant) > 4;
            sb.append("\n    /** Enum constant {@code ").append(constant).append("} = ").append(value).append(". */\n");
            sb.append("    public static final ").append(wide ? "long " : "int ").append(constant).append(" = ")
                    .append(wide ? value + "L" : Integer.toString((int) value)).append(";\n");
        }
        for (String macro : new java.util.TreeSet<>(header.macros())) {
            long value = macros.get(macro);
            boolean wide = value != (int) value;
            sb.append("\n    /** Macro {@code ").append(macro).append("} = ").append(value).append(". */\n");
            sb.append("    public static final ").append(wide ? "long " : "int ").append(macro).append(" = ")
                    .append(wide ? value + "L" : Long.toString(value)).append(";\n");
        }
        for (String name : names) {
            emitFunction(sb, name, functions.get(name));
        }
        sb.append("}\n");
        return sb.toString();
    }

    private void emitFunction(StringBuilder sb, String name, MemorySegment cursor) {
        MemorySegment type = clang.type(cursor);
        MemorySegment result = clang.canonical(clang.resultType(type));
        int argc = clang.argCount(type);
        String returnJava = javaType(result, name + " result");
        String returnLayout = returnJava.equals("void") ? null : layout(result, name + " result");
        List<String> paramJava = new ArrayList<>();
        List<String> paramLayout = new ArrayList<>();
        List<String> paramNames = new ArrayList<>();
        List<String> paramC = new ArrayList<>();
        for (int i = 0; i < argc; i++) {
            MemorySegment argType = clang.argType(type, i);
            MemorySegment canonical = clang.canonical(argType);
            String what = name + " parameter " + i;
            paramJava.add(javaType(canonical, what));
            paramLayout.add(layout(canonical, what));
            paramC.add(clang.typeSpelling(argType));
            String pname = clang.spelling(clang.argument(cursor, i));
            paramNames.add(safeName(pname.isEmpty() ? "x" + i : pname));
        }
        StringBuilder cSignature = new StringBuilder();
        cSignature.append(clang.typeSpelling(clang.resultType(type))).append(' ').append(name).append('(');
        for (int i = 0; i < argc; i++) {
            cSignature.append(i == 0 ? "" : ", ").append(paramC.get(i)).append(' ').append(paramNames.get(i));
        }
        cSignature.append(')');
        String descriptor = (returnLayout == null ? "FunctionDescriptor.ofVoid(" : "FunctionDescriptor.of("
                + returnLayout + (argc > 0 ? ", " : "")) + String.join(", ", paramLayout) + ")";
        sb.append("\n    private static final class ").append(name).append("$ {\n");
        sb.append("        static final FunctionDescriptor DESC = ").append(descriptor).append(";\n");
        sb.append("        static final MemorySegment ADDR = findOrThrow(\"").append(name).append("\");\n");
        sb.append("        static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);\n");
        sb.append("    }\n\n");
        sb.append("    /** The function descriptor of {@code ").append(escape(cSignature.toString())).append("}. */\n");
        sb.append("    public static FunctionDescriptor ").append(name).append("$descriptor() {\n");
        sb.append("        return ").append(descriptor).append(";\n    }\n\n");
        sb.append("    /** The method handle of {@code ").append(name).append("}; loads the library on first use. */\n");
        sb.append("    public static MethodHandle ").append(name).append("$handle() {\n");
        sb.append("        return ").append(name).append("$.HANDLE;\n    }\n\n");
        sb.append("    /** The address of {@code ").append(name).append("}; loads the library on first use. */\n");
        sb.append("    public static MemorySegment ").append(name).append("$address() {\n");
        sb.append("        return ").append(name).append("$.ADDR;\n    }\n\n");
        sb.append("    /** Calls {@code ").append(escape(cSignature.toString())).append("}. */\n");
        sb.append("    public static ").append(returnJava).append(' ').append(name).append('(');
        for (int i = 0; i < argc; i++) {
            sb.append(i == 0 ? "" : ", ").append(paramJava.get(i)).append(' ').append(paramNames.get(i));
        }
        sb.append(") {\n");
        sb.append("        try {\n");
        sb.append("            ").append(returnJava.equals("void") ? "" : "return (" + returnJava + ") ")
                .append(name).append("$.HANDLE.invokeExact(").append(String.join(", ", paramNames)).append(");\n");
        sb.append("        } catch (Error | RuntimeException ex) {\n            throw ex;\n");
        sb.append("        } catch (Throwable ex) {\n            throw new AssertionError(\"should not reach here\", ex);\n");
        sb.append("        }\n    }\n");
    }

    private String emitStruct(String name, MemorySegment cursor) {
        MemorySegment type = clang.type(cursor);
        long size = clang.sizeOf(type);
        StringBuilder sb = new StringBuilder();
        sb.append(banner());
        sb.append("package ").append(PACKAGE).append(";\n\n");
        sb.append("import java.lang.foreign.GroupLayout;\n");
        sb.append("import java.lang.foreign.MemoryLayout;\n");
        sb.append("import java.lang.foreign.MemorySegment;\n");
        sb.append("import java.lang.foreign.SegmentAllocator;\n");
        sb.append("import java.lang.foreign.ValueLayout;\n\n");
        sb.append("/**\n * The layout of {@code struct ").append(name).append("} (").append(size)
                .append(" bytes) with accessors for its fields. Generated; stateless and\n * thread-safe.\n */\n");
        sb.append("@SuppressWarnings({\"unused\", \"restricted\"})\n");
        sb.append("public final class ").append(name).append(" {\n\n");
        sb.append("    private ").append(name).append("() {\n    }\n\n");
        sb.append("    /** The size of the struct in bytes, as the C compiler lays it out. */\n");
        sb.append("    public static final long SIZEOF = ").append(size).append("L;\n\n");
        sb.append("    /** The struct's layout; its size equals {@link #SIZEOF}. */\n");
        sb.append("    public static final GroupLayout LAYOUT = ").append(recordLayout(cursor, "        "))
                .append(".withName(\"").append(name).append("\");\n");
        StringBuilder accessors = new StringBuilder();
        for (MemorySegment field : clang.children(cursor)) {
            if (clang.kind(field) != LibClang.CURSOR_FIELD_DECL) {
                continue;
            }
            String fname = clang.spelling(field);
            MemorySegment ftype = clang.canonical(clang.type(field));
            long offset = clang.fieldOffsetBits(field) / 8;
            String jname = safeName(fname);
            int kind = LibClang.typeKind(ftype);
            accessors.append("\n    /** Byte offset of {@code ").append(fname).append("}. */\n");
            accessors.append("    public static final long ").append(jname).append("$OFFSET = ").append(offset)
                    .append("L;\n");
            if (kind == LibClang.TYPE_CONSTANT_ARRAY || kind == LibClang.TYPE_RECORD) {
                long fsize = clang.sizeOf(ftype);
                accessors.append("\n    /** A slice over {@code ").append(escape(clang.typeSpelling(clang.type(field))))
                        .append(' ').append(fname).append("} (").append(fsize).append(" bytes). */\n");
                accessors.append("    public static MemorySegment ").append(jname).append("(MemorySegment struct) {\n");
                accessors.append("        return struct.asSlice(").append(jname).append("$OFFSET, ").append(fsize)
                        .append("L);\n    }\n");
            } else {
                String jt = javaType(ftype, name + "." + fname);
                String vl = valueLayout(ftype, name + "." + fname);
                accessors.append("\n    /** Reads {@code ").append(escape(clang.typeSpelling(clang.type(field))))
                        .append(' ').append(fname).append("}. */\n");
                accessors.append("    public static ").append(jt).append(' ').append(jname)
                        .append("(MemorySegment struct) {\n");
                accessors.append("        return struct.get(").append(vl).append(", ").append(jname)
                        .append("$OFFSET);\n    }\n");
                accessors.append("\n    /** Writes {@code ").append(fname).append("}. */\n");
                accessors.append("    public static void ").append(jname).append("(MemorySegment struct, ")
                        .append(jt).append(" fieldValue) {\n");
                accessors.append("        struct.set(").append(vl).append(", ").append(jname)
                        .append("$OFFSET, fieldValue);\n    }\n");
            }
        }
        sb.append(accessors);
        sb.append("\n    /** Allocates one zeroed struct from {@code allocator}, which owns it. */\n");
        sb.append("    public static MemorySegment allocate(SegmentAllocator allocator) {\n");
        sb.append("        return allocator.allocate(LAYOUT);\n    }\n");
        sb.append("}\n");
        return sb.toString();
    }

    /** A Java expression building the layout of a struct from its field offsets, with explicit padding. */
    private String recordLayout(MemorySegment cursor, String indent) {
        long size = clang.sizeOf(clang.type(cursor));
        List<String> parts = new ArrayList<>();
        long at = 0;
        for (MemorySegment field : clang.children(cursor)) {
            if (clang.kind(field) != LibClang.CURSOR_FIELD_DECL) {
                continue;
            }
            String fname = clang.spelling(field);
            if (clang.isBitField(field)) {
                throw new IllegalStateException("bit fields are not supported: " + fname);
            }
            long offset = clang.fieldOffsetBits(field) / 8;
            if (offset > at) {
                parts.add("MemoryLayout.paddingLayout(" + (offset - at) + ")");
            }
            MemorySegment ftype = clang.canonical(clang.type(field));
            parts.add(fieldLayout(ftype, fname, indent + "    ") + ".withName(\"" + fname + "\")");
            at = offset + clang.sizeOf(ftype);
        }
        if (size > at) {
            parts.add("MemoryLayout.paddingLayout(" + (size - at) + ")");
        }
        return "MemoryLayout.structLayout(\n" + indent + "    " + String.join(",\n" + indent + "    ", parts) + ")";
    }

    private String fieldLayout(MemorySegment type, String what, String indent) {
        int kind = LibClang.typeKind(type);
        if (kind == LibClang.TYPE_CONSTANT_ARRAY) {
            MemorySegment element = clang.canonical(clang.arrayElement(type));
            return "MemoryLayout.sequenceLayout(" + clang.arraySize(type) + ", " + fieldLayout(element, what, indent)
                    + ")";
        }
        if (kind == LibClang.TYPE_RECORD) {
            return recordLayout(clang.declaration(type), indent);
        }
        return valueLayout(type, what);
    }

    private String javaType(MemorySegment canonical, String what) {
        return switch (LibClang.typeKind(canonical)) {
            case LibClang.TYPE_VOID -> "void";
            case LibClang.TYPE_BOOL -> "boolean";
            case LibClang.TYPE_CHAR_U, LibClang.TYPE_UCHAR, LibClang.TYPE_CHAR_S, LibClang.TYPE_SCHAR -> "byte";
            case LibClang.TYPE_SHORT, LibClang.TYPE_USHORT -> "short";
            case LibClang.TYPE_INT, LibClang.TYPE_UINT -> "int";
            case LibClang.TYPE_LONG, LibClang.TYPE_ULONG, LibClang.TYPE_LONGLONG, LibClang.TYPE_ULONGLONG -> "long";
            case LibClang.TYPE_FLOAT -> "float";
            case LibClang.TYPE_DOUBLE -> "double";
            case LibClang.TYPE_ENUM -> clang.sizeOf(canonical) > 4 ? "long" : "int";
            case LibClang.TYPE_POINTER, LibClang.TYPE_INCOMPLETE_ARRAY, LibClang.TYPE_CONSTANT_ARRAY ->
                    "MemorySegment";
            default -> throw new IllegalStateException("unsupported C type " + clang.typeSpelling(canonical)
                    + " (kind " + LibClang.typeKind(canonical) + ") for " + what);
        };
    }

    private String layout(MemorySegment canonical, String what) {
        int kind = LibClang.typeKind(canonical);
        if (kind == LibClang.TYPE_INCOMPLETE_ARRAY || kind == LibClang.TYPE_CONSTANT_ARRAY) {
            return "C_POINTER";
        }
        return switch (javaType(canonical, what)) {
            case "boolean" -> "C_BOOL";
            case "byte" -> "C_CHAR";
            case "short" -> "C_SHORT";
            case "int" -> "C_INT";
            case "long" -> "C_LONG";
            case "float" -> "C_FLOAT";
            case "double" -> "C_DOUBLE";
            case "MemorySegment" -> "C_POINTER";
            default -> throw new IllegalStateException("no layout for " + what);
        };
    }

    private String valueLayout(MemorySegment canonical, String what) {
        return switch (javaType(canonical, what)) {
            case "boolean" -> "ValueLayout.JAVA_BOOLEAN";
            case "byte" -> "ValueLayout.JAVA_BYTE";
            case "short" -> "ValueLayout.JAVA_SHORT";
            case "int" -> "ValueLayout.JAVA_INT";
            case "long" -> "ValueLayout.JAVA_LONG";
            case "float" -> "ValueLayout.JAVA_FLOAT";
            case "double" -> "ValueLayout.JAVA_DOUBLE";
            case "MemorySegment" -> "ValueLayout.ADDRESS";
            default -> throw new IllegalStateException("no layout for " + what);
        };
    }

    private static final Set<String> JAVA_KEYWORDS = Set.of("abstract", "assert", "boolean", "break", "byte",
            "case", "catch", "char", "class", "const", "continue", "default", "do", "double", "else", "enum",
            "extends", "final", "finally", "float", "for", "goto", "if", "implements", "import", "instanceof", "int",
            "interface", "long", "native", "new", "package", "private", "protected", "public", "return", "short",
            "static", "strictfp", "super", "switch", "synchronized", "this", "throw", "throws", "transient", "try",
            "void", "volatile", "while", "var", "record", "yield", "_");

    private static String safeName(String name) {
        return JAVA_KEYWORDS.contains(name) ? name + "$" : name;
    }

    private static String escape(String text) {
        return text.replace("*/", "* /").replace("@", "{@literal @}");
    }
}
