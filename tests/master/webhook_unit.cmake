# test_webhook_unit: master/webhook's pure logic (kf_webhook). Included by tests/master/CMakeLists.txt, and by
# tests/CMakeLists.txt in builds without the services (the asan preset), where master/webhook is added alone.
add_executable(test_webhook_unit ${CMAKE_CURRENT_LIST_DIR}/test_webhook.cpp)
target_link_libraries(test_webhook_unit PRIVATE kf_webhook nlohmann_json::nlohmann_json GTest::gtest_main)
target_include_directories(test_webhook_unit PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(test_webhook_unit PRIVATE KF_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
gtest_discover_tests(test_webhook_unit PROPERTIES LABELS master DISCOVERY_TIMEOUT 60)
