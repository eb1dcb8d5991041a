# Writes OUT: a C++ file defining posfleet::store::EmbeddedMigrations() from the *.up.sql and
# *.down.sql files in DIR. Run at build time, so editing a migration rebuilds the binary.
file(GLOB ups "${DIR}/*.up.sql")
list(SORT ups)
set(body "")
foreach(up ${ups})
  get_filename_component(file ${up} NAME)
  string(REGEX MATCH "^([0-9]+)_(.+)\\.up\\.sql$" ok ${file})
  if(NOT ok)
    message(FATAL_ERROR "migration file ${file} is not named NNNNNN_title.up.sql")
  endif()
  set(version ${CMAKE_MATCH_1})
  set(name ${CMAKE_MATCH_2})
  string(REGEX REPLACE "\\.up\\.sql$" ".down.sql" down ${up})
  if(NOT EXISTS ${down})
    message(FATAL_ERROR "migration ${file} has no matching .down.sql")
  endif()
  file(READ ${up} up_sql)
  file(READ ${down} down_sql)
  math(EXPR number "${version} + 0")
  string(APPEND body "    {${number}, \"${name}\", R\"posfleet_sql(${up_sql})posfleet_sql\",\n"
                     "     R\"posfleet_sql(${down_sql})posfleet_sql\"},\n")
endforeach()
file(WRITE ${OUT}.tmp "// Generated from migrations/ by embed_migrations.cmake. Do not edit.\n"
  "#include \"server/store/migrator.h\"\n\n"
  "namespace posfleet::store {\n\n"
  "const std::vector<Migration>& EmbeddedMigrations() {\n"
  "  static const auto* migrations = new std::vector<Migration>{\n${body}  };\n"
  "  return *migrations;\n}\n\n}  // namespace posfleet::store\n")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
