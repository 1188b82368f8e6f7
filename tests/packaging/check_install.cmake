# Installs the build into a scratch prefix and runs the installed lethe-cli there with LETHE_RESOURCE_DIR unset:
# the installed tree must hold every file the Debian package ships, and the program must take its built-in model
# from <prefix>/share/lethe, not from the source tree.
#
#   cmake -DBUILD_DIR=… -DPREFIX=… -DWITH_GUI=ON|OFF -P check_install.cmake

file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cmake --install failed (exit ${rc}):\n${out}")
endif()

set(expected
    bin/lethe-cli
    share/lethe/resources/models/fmnist-edm.safetensors
    share/lethe/resources/models/fmnist-classifier.safetensors
    share/lethe/resources/presets/paper-nudity.json
    share/lethe/resources/presets/fashion-colours.json)
if(WITH_GUI)
    list(APPEND expected
        bin/lethe
        share/lethe/translations/lethe_de.qm
        share/lethe/translations/lethe_zh_CN.qm
        share/applications/invalid.lethe.Lethe.desktop
        share/metainfo/invalid.lethe.Lethe.metainfo.xml
        share/icons/hicolor/scalable/apps/invalid.lethe.Lethe.svg)
endif()
foreach(file IN LISTS expected)
    if(NOT EXISTS "${PREFIX}/${file}")
        message(FATAL_ERROR "the installed tree lacks ${file}; installed:\n${out}")
    endif()
endforeach()

# Two images per class from the installed built-in model and classifier: the first lines name the files used.
execute_process(
    COMMAND "${CMAKE_COMMAND}" -E env --unset=LETHE_RESOURCE_DIR
            "${PREFIX}/bin/lethe-cli" --threads 1 eval --per-class 2
    WORKING_DIRECTORY "${PREFIX}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "installed lethe-cli eval failed (exit ${rc}):\n${out}\n${err}")
endif()
message(STATUS "installed lethe-cli eval --per-class 2:\n${out}")
foreach(file fmnist-edm fmnist-classifier)
    string(FIND "${out}" "${PREFIX}/share/lethe/resources/models/${file}.safetensors" at)
    if(at EQUAL -1)
        message(FATAL_ERROR "installed lethe-cli did not use ${PREFIX}/share/lethe/resources/models/${file}.safetensors")
    endif()
endforeach()

if(WITH_GUI)
    execute_process(
        COMMAND "${CMAKE_COMMAND}" -E env QT_QPA_PLATFORM=offscreen "${PREFIX}/bin/lethe" --version
        RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0 OR NOT out MATCHES "^Lethe [0-9]+\\.[0-9]+\\.[0-9]+")
        message(FATAL_ERROR "installed lethe --version: exit ${rc}, output '${out}${err}'")
    endif()
endif()
file(REMOVE_RECURSE "${PREFIX}")
