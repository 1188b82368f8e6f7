# One INTERFACE target carries the language standard, warnings and Qt defines for every Lethe target.
#
# C++17 is the newest standard that both Debian's LibTorch 1.13 and upstream LibTorch 2.x document as
# supported (2.x requires it; 1.13 builds with it), so both the Debian CPU build and CUDA builds agree.

set(CMAKE_EXPORT_COMPILE_COMMANDS ON)

if(LETHE_USE_CCACHE)
    find_program(LETHE_CCACHE ccache)
    if(LETHE_CCACHE)
        set(CMAKE_CXX_COMPILER_LAUNCHER "${LETHE_CCACHE}")
    endif()
endif()

add_library(lethe_settings INTERFACE)
add_library(Lethe::settings ALIAS lethe_settings)
target_compile_features(lethe_settings INTERFACE cxx_std_17)
set(CMAKE_CXX_EXTENSIONS OFF)

if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(lethe_settings INTERFACE
        -Wall -Wextra -pedantic -Wnon-virtual-dtor
        # Qt's targets demand -fPIC; every target uses it so that all of them can share lethe_core's
        # precompiled header (GCC rejects a PCH built with other -fpic/-fpie settings).
        -fPIC)
endif()

target_compile_definitions(lethe_settings INTERFACE
    QT_NO_KEYWORDS
    QT_NO_CAST_FROM_ASCII
    QT_NO_CAST_TO_ASCII
    QT_NO_CONTEXTLESS_CONNECT
    QT_NO_NARROWING_CONVERSIONS_IN_CONNECT
    QT_USE_QSTRINGBUILDER
    LETHE_VERSION="${PROJECT_VERSION}")

# Debian's LibTorch loads OpenCV's highgui and with it Qt 5 into every Lethe program. At -O0 the compiler
# emits Qt's inline functions out of line, the executable exports the ones Qt 5 also calls (same mangled
# names), and Qt 5's start-up code then runs Qt 6's versions and crashes. Hidden inline functions stay private.
target_compile_options(lethe_settings INTERFACE $<$<CONFIG:Debug>:-fvisibility-inlines-hidden>)

if(LETHE_SANITIZE)
    target_compile_options(lethe_settings INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
    target_link_options(lethe_settings INTERFACE -fsanitize=address,undefined)
endif()

# Fuzzing: every target carries the sanitizers and libFuzzer's coverage instrumentation; only the fuzz
# executables in tests/fuzz link libFuzzer's main (-fsanitize=fuzzer), so lethe-cli still links as usual.
if(LETHE_FUZZ)
    if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
        message(FATAL_ERROR "LETHE_FUZZ needs clang (libFuzzer); use the fuzz preset")
    endif()
    target_compile_options(lethe_settings INTERFACE
        -fsanitize=address,undefined,fuzzer-no-link -fno-omit-frame-pointer)
    target_link_options(lethe_settings INTERFACE -fsanitize=address,undefined)
endif()

# ccache hashes the precompiled header's content instead of trusting its path when told to.
if(LETHE_CCACHE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(lethe_settings INTERFACE -fpch-preprocess)
endif()
