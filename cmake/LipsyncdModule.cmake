# Warnings for project code only (third-party headers are included as SYSTEM).
set(LIPSYNCD_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Wunused -Woverloaded-virtual -Wformat=2)

function(lipsyncd_warnings target)
  target_compile_options(${target} PRIVATE ${LIPSYNCD_WARNINGS})
endfunction()

# lipsyncd_module(NAME SOURCES ... DEPENDS ...): the library lipsyncd_<NAME>, whose public
# headers live in include/lipsyncd/<NAME>/.
function(lipsyncd_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS" ${ARGN})
  add_library(lipsyncd_${name} STATIC ${ARG_SOURCES})
  target_include_directories(lipsyncd_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include
                                                    ${PROJECT_BINARY_DIR}/include)
  target_link_libraries(lipsyncd_${name} PUBLIC ${ARG_DEPENDS})
  lipsyncd_warnings(lipsyncd_${name})
endfunction()
