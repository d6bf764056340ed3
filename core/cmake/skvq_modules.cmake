# The engine's modules: one static library per folder of core/src, each owning a list of the
# public headers in core/include/skvq, linked one way (core/CMakeLists.txt gives the order).
#
# Two checks make a dependency that runs the wrong way fail the build, not a review:
# - at configure time, every `#include "skvq/x.h"` or `#include "<folder>/x.h"` (folder: one of
#   the modules' DIRS, e.g. quant/methods) in a module's files must name a header of the module
#   itself or of a module it depends on (transitively);
# - at build time, each module is linked whole (--whole-archive) into an empty program together
#   with only its dependencies (skvq_layer_check_<module>), so a call into a module above it is
#   an undefined reference.

set(SKVQ_CORE_DIR ${CMAKE_CURRENT_LIST_DIR}/..)

# Settings every module shares (the same flags for every engine source).
function(skvq_module_settings target)
  target_include_directories(${target} PUBLIC ${SKVQ_CORE_DIR}/include PRIVATE ${SKVQ_CORE_DIR}/src)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter -fopenmp-simd)
endfunction()

# skvq_module(<name> DIRS <folders of src/> [DEPENDS <modules>] HEADERS <headers of include/skvq>)
# Defines the static library skvq_<name> from src/<folder>/*.cpp and its link check.
function(skvq_module name)
  cmake_parse_arguments(M "" "" "DIRS;DEPENDS;HEADERS" ${ARGN})
  set(sources "")
  set(files "")
  foreach(dir IN LISTS M_DIRS)
    file(GLOB dir_sources CONFIGURE_DEPENDS ${SKVQ_CORE_DIR}/src/${dir}/*.cpp)
    file(GLOB dir_headers CONFIGURE_DEPENDS ${SKVQ_CORE_DIR}/src/${dir}/*.h)
    list(APPEND sources ${dir_sources})
    list(APPEND files ${dir_sources} ${dir_headers})
    set_property(GLOBAL PROPERTY SKVQ_FOLDER_OWNER_${dir} ${name})
  endforeach()
  foreach(header IN LISTS M_HEADERS)
    if(NOT EXISTS ${SKVQ_CORE_DIR}/include/skvq/${header})
      message(FATAL_ERROR "skvq_module(${name}): no header include/skvq/${header}")
    endif()
    get_property(owner GLOBAL PROPERTY SKVQ_HEADER_OWNER_${header})
    if(owner)
      message(FATAL_ERROR "skvq_module(${name}): skvq/${header} already belongs to module ${owner}")
    endif()
    set_property(GLOBAL PROPERTY SKVQ_HEADER_OWNER_${header} ${name})
    list(APPEND files ${SKVQ_CORE_DIR}/include/skvq/${header})
  endforeach()
  set(closure ${name})
  foreach(dep IN LISTS M_DEPENDS)
    get_property(dep_closure GLOBAL PROPERTY SKVQ_MODULE_CLOSURE_${dep})
    if(NOT dep_closure)
      message(FATAL_ERROR "skvq_module(${name}): module ${dep} must be declared before it")
    endif()
    list(APPEND closure ${dep_closure})
  endforeach()
  list(REMOVE_DUPLICATES closure)
  set_property(GLOBAL PROPERTY SKVQ_MODULE_CLOSURE_${name} ${closure})
  set_property(GLOBAL PROPERTY SKVQ_MODULE_FILES_${name} ${files})
  set_property(GLOBAL APPEND PROPERTY SKVQ_MODULES ${name})
  set_property(GLOBAL APPEND PROPERTY SKVQ_CORE_SOURCES ${sources})

  add_library(skvq_${name} STATIC ${sources})
  skvq_module_settings(skvq_${name})
  foreach(dep IN LISTS M_DEPENDS)
    target_link_libraries(skvq_${name} PUBLIC skvq_${dep})
  endforeach()
  add_executable(skvq_layer_check_${name} ${SKVQ_CORE_DIR}/cmake/layer_check_main.cpp)
  target_link_libraries(skvq_layer_check_${name} PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,skvq_${name}>")
endfunction()

# The configure-time include check over every declared module (call after the last module).
function(skvq_check_module_includes)
  file(GLOB all_headers RELATIVE ${SKVQ_CORE_DIR}/include/skvq ${SKVQ_CORE_DIR}/include/skvq/*.h)
  foreach(header IN LISTS all_headers)
    get_property(owner GLOBAL PROPERTY SKVQ_HEADER_OWNER_${header})
    if(NOT owner)
      message(FATAL_ERROR "include/skvq/${header} belongs to no module: add it to a skvq_module() "
                          "HEADERS list in core/CMakeLists.txt")
    endif()
  endforeach()
  get_property(modules GLOBAL PROPERTY SKVQ_MODULES)
  foreach(module IN LISTS modules)
    get_property(closure GLOBAL PROPERTY SKVQ_MODULE_CLOSURE_${module})
    get_property(files GLOBAL PROPERTY SKVQ_MODULE_FILES_${module})
    foreach(file IN LISTS files)
      file(STRINGS ${file} includes REGEX "^#include \"[a-z_0-9/]+/[a-z_0-9]+\\.h\"")
      foreach(line IN LISTS includes)
        string(REGEX REPLACE "^#include \"([a-z_0-9/]+)/([a-z_0-9]+\\.h)\".*" "\\1;\\2" parts "${line}")
        list(GET parts 0 folder)
        list(GET parts 1 header)
        if(folder STREQUAL "skvq")
          get_property(owner GLOBAL PROPERTY SKVQ_HEADER_OWNER_${header})
        else()
          get_property(owner GLOBAL PROPERTY SKVQ_FOLDER_OWNER_${folder})
        endif()
        if(NOT owner)  # another project's header (skvq_cuda/..., nlohmann/...)
          continue()
        endif()
        if(NOT owner IN_LIST closure)
          file(RELATIVE_PATH rel ${SKVQ_CORE_DIR} ${file})
          message(FATAL_ERROR "core/${rel} (module ${module}) includes ${folder}/${header} of module "
                              "${owner}, which ${module} does not depend on: dependencies run "
                              "one way (core/CMakeLists.txt)")
        endif()
      endforeach()
    endforeach()
  endforeach()
endfunction()
