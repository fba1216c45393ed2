# cmake/fuzz.cmake — libFuzzer harnesses (fuzz/fuzz_*.c), only with -DMCDC_FUZZ=ON.
#
# Use a build dir of its own and clang:
#   CC=clang cmake -S . -B build-fuzz -DMCDC_FUZZ=ON -DMCDC_TESTS=OFF
#   cmake --build build-fuzz --target fuzz_all
# bench/fuzz does both and runs every harness.
#
# The core sources are compiled a second time, as mcdc_core_fuzz, with
# -fsanitize=fuzzer-no-link,address,undefined: coverage guidance and the
# sanitizers must reach the parsers under test, not only the harness. The
# plain mcdc_core and everything on it stay as they are, so one build dir can
# hold both. Included from the end of CMakeLists.txt, after mcdc_core exists.
option(MCDC_FUZZ "Build the libFuzzer harnesses in fuzz/ (needs clang)" OFF)
if(NOT MCDC_FUZZ)
  return()
endif()
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "MCDC_FUZZ=ON needs clang (libFuzzer); configure with CC=clang, not ${CMAKE_C_COMPILER_ID}")
endif()

# UB must stop the run like a crash does, or libFuzzer never records it.
set(MCDC_FUZZ_SAN address,undefined)
set(MCDC_FUZZ_CFLAGS -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=undefined)

add_library(mcdc_core_fuzz STATIC ${MCDC_CORE_SRCS})
# The same includes and libraries as mcdc_core, taken from it so they cannot drift.
target_include_directories(mcdc_core_fuzz PUBLIC $<TARGET_PROPERTY:mcdc_core,INTERFACE_INCLUDE_DIRECTORIES>)
target_link_libraries(mcdc_core_fuzz PUBLIC $<TARGET_PROPERTY:mcdc_core,INTERFACE_LINK_LIBRARIES>)
target_compile_options(mcdc_core_fuzz PRIVATE ${MCDC_WARN} ${MCDC_FUZZ_CFLAGS}
  -fsanitize=fuzzer-no-link,${MCDC_FUZZ_SAN})

file(GLOB MCDC_FUZZ_SRCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/fuzz_*.c)
add_custom_target(fuzz_all)
foreach(src ${MCDC_FUZZ_SRCS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_compile_options(${name} PRIVATE ${MCDC_WARN} ${MCDC_FUZZ_CFLAGS} -fsanitize=fuzzer,${MCDC_FUZZ_SAN})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,${MCDC_FUZZ_SAN})
  target_link_libraries(${name} PRIVATE mcdc_core_fuzz)
  add_dependencies(fuzz_all ${name})
endforeach()
