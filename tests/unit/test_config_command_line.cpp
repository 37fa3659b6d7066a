// Command-line flags win over the file and the environment; flags not given keep them.

#include <gtest/gtest.h>

#include "lipsyncd/config/command_line.hpp"
#include "lipsyncd/core/error.hpp"

namespace lipsyncd {
namespace {

TEST(ConfigCommandLine, GivenFlagsWinAndOthersKeepTheConfiguredValue) {
  Config config = default_config({});
  config.fal.rest_url = "https://rest.example";
  apply_command_line(config, {.queue_url = "http://127.0.0.1:9/",
                              .ca_file = "certs/ca.pem",
                              .log_level = "debug",
                              .endpoint = "fal-ai/sync-lipsync/v2"});
  EXPECT_EQ(config.fal.queue_url, "http://127.0.0.1:9/");
  EXPECT_EQ(config.fal.rest_url, "https://rest.example");
  EXPECT_EQ(config.fal.ca_file, std::filesystem::absolute("certs/ca.pem"));
  EXPECT_EQ(config.log.level, "debug");
  EXPECT_EQ(model_choice(config).endpoint, "fal-ai/sync-lipsync/v2");
  EXPECT_EQ(model_choice(config).model, "lipsync-2") << "re-priced for the new endpoint";
}

TEST(ConfigCommandLine, AModelOfAnotherEndpointIsRefused) {
  Config config = default_config({});
  try {
    apply_command_line(config,
                       {.endpoint = "fal-ai/sync-lipsync/v2", .model = "lipsync-1.9.0-beta"});
    FAIL() << "accepted a model the endpoint does not have";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), "unknown_model");
  }
}

}  // namespace
}  // namespace lipsyncd
