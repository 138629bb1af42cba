package io.vramkit.cuda.internal.generator;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The slice of libclang's C API the binding generator needs, bound by hand through FFM (the generator cannot
 * generate its own bindings). Cursors, types and strings are the by-value structs of {@code Index.h}, held as
 * {@link MemorySegment}s allocated in the arena given to the constructor.
 *
 * <p>Not thread-safe: one generator run uses one instance on one thread.
 */
final class LibClang {

    /** The libclang library names tried, most specific first; {@code vramkit.libclang} overrides them. */
    static final List<String> CANDIDATES = List.of(
            "/usr/lib/llvm-14/lib/libclang-14.so.1",
            "/usr/lib/x86_64-linux-gnu/libclang-14.so.1",
            "/usr/lib/llvm-14/lib/libclang.so.1",
            "libclang-14.so.1",
            "libclang.so.1");

    static final int CURSOR_STRUCT_DECL = 2;
    static final int CURSOR_ENUM_DECL = 5;
    static final int CURSOR_FIELD_DECL = 6;
    static final int CURSOR_ENUM_CONSTANT_DECL = 7;
    static final int CURSOR_FUNCTION_DECL = 8;
    static final int CURSOR_VAR_DECL = 9;

    static final int TYPE_VOID = 2;
    static final int TYPE_BOOL = 3;
    static final int TYPE_CHAR_U = 4;
    static final int TYPE_UCHAR = 5;
    static final int TYPE_USHORT = 8;
    static final int TYPE_UINT = 9;
    static final int TYPE_ULONG = 10;
    static final int TYPE_ULONGLONG = 11;
    static final int TYPE_CHAR_S = 13;
    static final int TYPE_SCHAR = 14;
    static final int TYPE_SHORT = 16;
    static final int TYPE_INT = 17;
    static final int TYPE_LONG = 18;
    static final int TYPE_LONGLONG = 19;
    static final int TYPE_FLOAT = 21;
    static final int TYPE_DOUBLE = 22;
    static final int TYPE_POINTER = 101;
    static final int TYPE_RECORD = 105;
    static final int TYPE_ENUM = 106;
    static final int TYPE_CONSTANT_ARRAY = 112;
    static final int TYPE_INCOMPLETE_ARRAY = 114;

    private static final StructLayout CX_CURSOR = MemoryLayout.structLayout(
            JAVA_INT.withName("kind"), JAVA_INT.withName("xdata"),
            MemoryLayout.sequenceLayout(3, ADDRESS).withName("data"));
    private static final StructLayout CX_TYPE = MemoryLayout.structLayout(
            JAVA_INT.withName("kind"), MemoryLayout.paddingLayout(4),
            MemoryLayout.sequenceLayout(2, ADDRESS).withName("data"));
    private static final StructLayout CX_STRING = MemoryLayout.structLayout(
            ADDRESS.withName("data"), JAVA_INT.withName("private_flags"), MemoryLayout.paddingLayout(4));
    private static final StructLayout CX_UNSAVED_FILE = MemoryLayout.structLayout(
            ADDRESS.withName("Filename"), ADDRESS.withName("Contents"), JAVA_LONG.withName("Length"));

    private final Arena arena;
    private final Linker linker = Linker.nativeLinker();
    private final SymbolLookup lookup;

    private final MethodHandle createIndex;
    private final MethodHandle disposeIndex;
    private final MethodHandle parseTranslationUnit;
    private final MethodHandle disposeTranslationUnit;
    private final MethodHandle getTranslationUnitCursor;
    private final MethodHandle visitChildren;
    private final MethodHandle getCursorKind;
    private final MethodHandle getCursorSpelling;
    private final MethodHandle getCursorType;
    private final MethodHandle getCString;
    private final MethodHandle disposeString;
    private final MethodHandle getCanonicalType;
    private final MethodHandle getResultType;
    private final MethodHandle getNumArgTypes;
    private final MethodHandle getArgType;
    private final MethodHandle cursorGetArgument;
    private final MethodHandle typeGetSizeOf;
    private final MethodHandle getArrayElementType;
    private final MethodHandle getArraySize;
    private final MethodHandle getTypeSpelling;
    private final MethodHandle getTypeDeclaration;
    private final MethodHandle cursorGetOffsetOfField;
    private final MethodHandle cursorIsBitField;
    private final MethodHandle getEnumConstantDeclValue;
    private final MethodHandle cursorEvaluate;
    private final MethodHandle evalResultGetKind;
    private final MethodHandle evalResultGetAsLongLong;
    private final MethodHandle evalResultDispose;
    private final MethodHandle getNumDiagnostics;
    private final MethodHandle getDiagnostic;
    private final MethodHandle getDiagnosticSeverity;
    private final MethodHandle formatDiagnostic;
    private final MethodHandle disposeDiagnostic;

    private final MemorySegment visitorStub;
    private MemorySegment index;
    private List<MemorySegment> collected;

    private LibClang(Arena arena, SymbolLookup lookup) {
        this.arena = arena;
        this.lookup = lookup;
        createIndex = handle("clang_createIndex", FunctionDescriptor.of(ADDRESS, JAVA_INT, JAVA_INT));
        disposeIndex = handle("clang_disposeIndex", FunctionDescriptor.ofVoid(ADDRESS));
        parseTranslationUnit = handle("clang_parseTranslationUnit", FunctionDescriptor.of(ADDRESS, ADDRESS,
                ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        disposeTranslationUnit = handle("clang_disposeTranslationUnit", FunctionDescriptor.ofVoid(ADDRESS));
        getTranslationUnitCursor = handle("clang_getTranslationUnitCursor", FunctionDescriptor.of(CX_CURSOR,
                ADDRESS));
        visitChildren = handle("clang_visitChildren", FunctionDescriptor.of(JAVA_INT, CX_CURSOR, ADDRESS,
                ADDRESS));
        getCursorKind = handle("clang_getCursorKind", FunctionDescriptor.of(JAVA_INT, CX_CURSOR));
        getCursorSpelling = handle("clang_getCursorSpelling", FunctionDescriptor.of(CX_STRING, CX_CURSOR));
        getCursorType = handle("clang_getCursorType", FunctionDescriptor.of(CX_TYPE, CX_CURSOR));
        getCString = handle("clang_getCString", FunctionDescriptor.of(ADDRESS, CX_STRING));
        disposeString = handle("clang_disposeString", FunctionDescriptor.ofVoid(CX_STRING));
        getCanonicalType = handle("clang_getCanonicalType", FunctionDescriptor.of(CX_TYPE, CX_TYPE));
        getResultType = handle("clang_getResultType", FunctionDescriptor.of(CX_TYPE, CX_TYPE));
        getNumArgTypes = handle("clang_getNumArgTypes", FunctionDescriptor.of(JAVA_INT, CX_TYPE));
        getArgType = handle("clang_getArgType", FunctionDescriptor.of(CX_TYPE, CX_TYPE, JAVA_INT));
        cursorGetArgument = handle("clang_Cursor_getArgument", FunctionDescriptor.of(CX_CURSOR, CX_CURSOR,
                JAVA_INT));
        typeGetSizeOf = handle("clang_Type_getSizeOf", FunctionDescriptor.of(JAVA_LONG, CX_TYPE));
        getArrayElementType = handle("clang_getArrayElementType", FunctionDescriptor.of(CX_TYPE, CX_TYPE));
        getArraySize = handle("clang_getArraySize", FunctionDescriptor.of(JAVA_LONG, CX_TYPE));
        getTypeSpelling = handle("clang_getTypeSpelling", FunctionDescriptor.of(CX_STRING, CX_TYPE));
        getTypeDeclaration = handle("clang_getTypeDeclaration", FunctionDescriptor.of(CX_CURSOR, CX_TYPE));
        cursorGetOffsetOfField = handle("clang_Cursor_getOffsetOfField", FunctionDescriptor.of(JAVA_LONG,
                CX_CURSOR));
        cursorIsBitField = handle("clang_Cursor_isBitField", FunctionDescriptor.of(JAVA_INT, CX_CURSOR));
        getEnumConstantDeclValue = handle("clang_getEnumConstantDeclValue", FunctionDescriptor.of(JAVA_LONG,
                CX_CURSOR));
        cursorEvaluate = handle("clang_Cursor_Evaluate", FunctionDescriptor.of(ADDRESS, CX_CURSOR));
        evalResultGetKind = handle("clang_EvalResult_getKind", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        evalResultGetAsLongLong = handle("clang_EvalResult_getAsLongLong", FunctionDescriptor.of(JAVA_LONG,
                ADDRESS));
        evalResultDispose = handle("clang_EvalResult_dispose", FunctionDescriptor.ofVoid(ADDRESS));
        getNumDiagnostics = handle("clang_getNumDiagnostics", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        getDiagnostic = handle("clang_getDiagnostic", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
        getDiagnosticSeverity = handle("clang_getDiagnosticSeverity", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        formatDiagnostic = handle("clang_formatDiagnostic", FunctionDescriptor.of(CX_STRING, ADDRESS, JAVA_INT));
        disposeDiagnostic = handle("clang_disposeDiagnostic", FunctionDescriptor.ofVoid(ADDRESS));
        try {
            MethodHandle target = MethodHandles.lookup().findVirtual(LibClang.class, "collect",
                    MethodType.methodType(int.class, MemorySegment.class, MemorySegment.class, MemorySegment.class))
                    .bindTo(this);
            visitorStub = linker.upcallStub(target, FunctionDescriptor.of(JAVA_INT, CX_CURSOR, CX_CURSOR, ADDRESS),
                    arena);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Loads libclang from {@code vramkit.libclang} or the first of {@link #CANDIDATES} that opens.
     *
     * @throws IllegalStateException naming every path tried when none opens
     */
    static LibClang load(Arena arena) {
        List<String> tried = new ArrayList<>();
        String override = System.getProperty("vramkit.libclang");
        List<String> candidates = override != null ? List.of(override) : CANDIDATES;
        for (String candidate : candidates) {
            try {
                Path path = Path.of(candidate);
                SymbolLookup lookup = candidate.contains("/")
                        ? SymbolLookup.libraryLookup(path, arena)
                        : SymbolLookup.libraryLookup(candidate, arena);
                return new LibClang(arena, lookup);
            } catch (IllegalArgumentException e) {
                tried.add(candidate + " (" + e.getMessage() + ")");
            }
        }
        throw new IllegalStateException("libclang not found; install libclang1-14 (apt-get install libclang1-14 "
                + "libclang-14-dev) or set -Dvramkit.libclang=/path/to/libclang.so. Tried: " + tried);
    }

    /** Whether a libclang library can be found, without loading it for good. */
    static boolean available() {
        String override = System.getProperty("vramkit.libclang");
        for (String candidate : override != null ? List.of(override) : CANDIDATES) {
            if (!candidate.contains("/") || Files.exists(Path.of(candidate))) {
                try (Arena probe = Arena.ofConfined()) {
                    if (candidate.contains("/")) {
                        SymbolLookup.libraryLookup(Path.of(candidate), probe);
                    } else {
                        SymbolLookup.libraryLookup(candidate, probe);
                    }
                    return true;
                } catch (IllegalArgumentException e) {
                    // try the next candidate
                }
            }
        }
        return false;
    }

    private MethodHandle handle(String name, FunctionDescriptor descriptor) {
        MemorySegment address = lookup.find(name).orElseThrow(
                () -> new IllegalStateException("libclang lacks " + name));
        return linker.downcallHandle(address, descriptor);
    }

    @SuppressWarnings("unused") // called from native code through visitorStub
    private int collect(MemorySegment cursor, MemorySegment parent, MemorySegment data) {
        MemorySegment copy = arena.allocate(CX_CURSOR);
        copy.copyFrom(cursor);
        collected.add(copy);
        return 1; // CXChildVisit_Continue
    }

    /** Parses an unsaved main file with the given compiler arguments; fails on any error diagnostic. */
    MemorySegment parse(String fileName, String contents, List<String> args) {
        try {
            if (index == null) {
                index = (MemorySegment) createIndex.invokeExact(0, 0);
            }
            MemorySegment argv = arena.allocate(ADDRESS, args.size());
            for (int i = 0; i < args.size(); i++) {
                argv.setAtIndex(ADDRESS, i, arena.allocateFrom(args.get(i)));
            }
            MemorySegment unsaved = arena.allocate(CX_UNSAVED_FILE);
            MemorySegment contentBytes = arena.allocateFrom(contents);
            unsaved.set(ADDRESS, 0, arena.allocateFrom(fileName));
            unsaved.set(ADDRESS, 8, contentBytes);
            unsaved.set(JAVA_LONG, 16, contentBytes.byteSize() - 1);
            MemorySegment tu = (MemorySegment) parseTranslationUnit.invokeExact(index, arena.allocateFrom(fileName),
                    argv, args.size(), unsaved, 1, 0);
            if (tu.address() == 0) {
                throw new IllegalStateException("libclang could not parse " + fileName + " with " + args);
            }
            int n = (int) getNumDiagnostics.invokeExact(tu);
            List<String> errors = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                MemorySegment diag = (MemorySegment) getDiagnostic.invokeExact(tu, i);
                int severity = (int) getDiagnosticSeverity.invokeExact(diag);
                if (severity >= 3) {
                    errors.add(string((MemorySegment) formatDiagnostic.invokeExact((SegmentAllocator) arena, diag, 1)));
                }
                disposeDiagnostic.invokeExact(diag);
            }
            if (!errors.isEmpty()) {
                throw new IllegalStateException("libclang reported errors parsing the CUDA headers: " + errors);
            }
            return tu;
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    MemorySegment translationUnitCursor(MemorySegment tu) {
        try {
            return (MemorySegment) getTranslationUnitCursor.invokeExact((SegmentAllocator) arena, tu);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The direct children of a cursor, in source order. */
    List<MemorySegment> children(MemorySegment cursor) {
        List<MemorySegment> saved = collected;
        collected = new ArrayList<>();
        try {
            int ignored = (int) visitChildren.invokeExact(cursor, visitorStub, MemorySegment.NULL);
            return collected;
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            collected = saved;
        }
    }

    int kind(MemorySegment cursor) {
        try {
            return (int) getCursorKind.invokeExact(cursor);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    String spelling(MemorySegment cursor) {
        try {
            return string((MemorySegment) getCursorSpelling.invokeExact((SegmentAllocator) arena, cursor));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    MemorySegment type(MemorySegment cursor) {
        try {
            return (MemorySegment) getCursorType.invokeExact((SegmentAllocator) arena, cursor);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int typeKind(MemorySegment type) {
        return type.get(JAVA_INT, 0);
    }

    MemorySegment canonical(MemorySegment type) {
        return typeOp(getCanonicalType, type);
    }

    MemorySegment resultType(MemorySegment functionType) {
        return typeOp(getResultType, functionType);
    }

    MemorySegment arrayElement(MemorySegment type) {
        return typeOp(getArrayElementType, type);
    }

    private MemorySegment typeOp(MethodHandle op, MemorySegment type) {
        try {
            return (MemorySegment) op.invokeExact((SegmentAllocator) arena, type);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    int argCount(MemorySegment functionType) {
        try {
            return (int) getNumArgTypes.invokeExact(functionType);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    MemorySegment argType(MemorySegment functionType, int i) {
        try {
            return (MemorySegment) getArgType.invokeExact((SegmentAllocator) arena, functionType, i);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    MemorySegment argument(MemorySegment functionCursor, int i) {
        try {
            return (MemorySegment) cursorGetArgument.invokeExact((SegmentAllocator) arena, functionCursor, i);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    long sizeOf(MemorySegment type) {
        try {
            return (long) typeGetSizeOf.invokeExact(type);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    long arraySize(MemorySegment type) {
        try {
            return (long) getArraySize.invokeExact(type);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    String typeSpelling(MemorySegment type) {
        try {
            return string((MemorySegment) getTypeSpelling.invokeExact((SegmentAllocator) arena, type));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    MemorySegment declaration(MemorySegment type) {
        try {
            return (MemorySegment) getTypeDeclaration.invokeExact((SegmentAllocator) arena, type);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The offset of a field in bits, from its FieldDecl cursor. */
    long fieldOffsetBits(MemorySegment fieldCursor) {
        try {
            return (long) cursorGetOffsetOfField.invokeExact(fieldCursor);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    boolean isBitField(MemorySegment fieldCursor) {
        try {
            return (int) cursorIsBitField.invokeExact(fieldCursor) != 0;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    long enumConstantValue(MemorySegment cursor) {
        try {
            return (long) getEnumConstantDeclValue.invokeExact(cursor);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Evaluates a variable's constant initializer as an integer.
     *
     * @throws IllegalStateException when it is not an integer constant
     */
    long evaluateInt(MemorySegment varCursor) {
        try {
            MemorySegment result = (MemorySegment) cursorEvaluate.invokeExact(varCursor);
            if (result.address() == 0) {
                throw new IllegalStateException("cannot evaluate " + spelling(varCursor));
            }
            try {
                int kind = (int) evalResultGetKind.invokeExact(result);
                if (kind != 1) { // CXEval_Int
                    throw new IllegalStateException(spelling(varCursor) + " is not an integer constant (kind "
                            + kind + ")");
                }
                return (long) evalResultGetAsLongLong.invokeExact(result);
            } finally {
                evalResultDispose.invokeExact(result);
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private String string(MemorySegment cxString) throws Throwable {
        MemorySegment chars = (MemorySegment) getCString.invokeExact(cxString);
        String s = chars.address() == 0 ? "" : chars.reinterpret(Long.MAX_VALUE).getString(0);
        disposeString.invokeExact(cxString);
        return s;
    }

    void dispose(MemorySegment tu) {
        try {
            disposeTranslationUnit.invokeExact(tu);
            if (index != null) {
                disposeIndex.invokeExact(index);
                index = null;
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }
}
