// The end-to-end tests rely on this helper to start and stop real programs; check it once.
#include <gtest/gtest.h>

#include "child_process.hpp"
#include "test_media.hpp"

namespace lipsyncd::test {
namespace {

TEST(ChildProcessSupport, CapturesOutputAndExitCode) {
  TempDir dir;
  ChildProcess child({"/bin/sh", "-c", "echo 'listening on http://127.0.0.1:4242'; exit 3"},
                     dir / "log");
  const auto url =
      child.wait_for_output(std::regex(R"(listening on (\S+))"), std::chrono::seconds(5));
  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(*url, "http://127.0.0.1:4242");
  EXPECT_EQ(child.wait_for_exit(std::chrono::seconds(5)), 3);
}

TEST(ChildProcessSupport, PassesEnvironmentAndReportsSignals) {
  TempDir dir;
  ChildProcess child({"/bin/sh", "-c", "echo \"value=$LIPSYNCD_PROBE\"; sleep 30"}, dir / "log",
                     ChildOptions{.env = {"LIPSYNCD_PROBE=42"}});
  EXPECT_TRUE(child.wait_for_output(std::regex("value=42"), std::chrono::seconds(5)));
  child.signal(SIGTERM);
  EXPECT_EQ(child.wait_for_exit(std::chrono::seconds(5)), 128 + SIGTERM);
}

}  // namespace
}  // namespace lipsyncd::test
