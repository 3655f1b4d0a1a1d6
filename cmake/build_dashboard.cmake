# Builds the dashboard (frontend/ -> frontend/out) for the wheel when it is not built yet, so that
# `pip install .` from a clean clone gives the whole product. An sdist carries frontend/out and
# never gets here. Runs in script mode too (the tests do):
#   cmake -DFRONTEND_DIR=<dir> [-DNPM=<npm>] -P cmake/build_dashboard.cmake
if(NOT FRONTEND_DIR)
  message(FATAL_ERROR "build_dashboard.cmake: set FRONTEND_DIR")
endif()
if(NOT EXISTS "${FRONTEND_DIR}/out/index.html")
  if(NOT NPM)
    find_program(NPM npm)
  endif()
  if(NOT NPM)
    message(FATAL_ERROR
      "expstream: the dashboard (${FRONTEND_DIR}/out) is not built and npm was not found. "
      "Install Node.js >= 20 with npm (Debian: apt-get install nodejs npm) and build again, "
      "or install from an sdist, which carries the built dashboard.")
  endif()
  message(STATUS "expstream: building the dashboard with ${NPM} in ${FRONTEND_DIR}")
  if(NOT EXISTS "${FRONTEND_DIR}/node_modules")
    execute_process(COMMAND "${NPM}" ci --no-audit --no-fund --loglevel=error
      WORKING_DIRECTORY "${FRONTEND_DIR}" RESULT_VARIABLE npm_ci)
    if(NOT npm_ci EQUAL 0)
      message(FATAL_ERROR "expstream: `npm ci` in ${FRONTEND_DIR} failed (${npm_ci})")
    endif()
  endif()
  execute_process(COMMAND "${NPM}" run build WORKING_DIRECTORY "${FRONTEND_DIR}" RESULT_VARIABLE npm_build)
  if(NOT npm_build EQUAL 0 OR NOT EXISTS "${FRONTEND_DIR}/out/index.html")
    message(FATAL_ERROR "expstream: `npm run build` in ${FRONTEND_DIR} failed (${npm_build})")
  endif()
endif()
