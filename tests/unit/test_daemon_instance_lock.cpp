// One daemon per state folder (issue 10, case 6): the lock file and what a second instance
// is told. flock(2) locks belong to an open file description, so a second acquire in the same
// process conflicts exactly as a second process would.

#include <gtest/gtest.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/daemon/instance_lock.hpp"
#include "test_media.hpp"

namespace lipsyncd::daemon {
namespace {

TEST(InstanceLock, TheLockFileLivesInTheStateFolderAndIsPerFleetNode) {
  EXPECT_EQ(instance_lock_file("/var/lib/lipsyncd"), "/var/lib/lipsyncd/lipsyncd.lock");
  EXPECT_EQ(instance_lock_file("/var/lib/lipsyncd", "node-a"),
            "/var/lib/lipsyncd/lipsyncd-node-a.lock");
}

TEST(InstanceLock, ASecondHolderIsRefusedWithThePidOfTheFirst) {
  test::TempDir dir;
  const auto file = instance_lock_file(dir.path());
  std::optional<InstanceLock> first = InstanceLock::acquire(file);
  try {
    InstanceLock::acquire(file);
    ADD_FAILURE() << "two holders of one lock";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), "already_running");
    EXPECT_NE(std::string(e.what()).find("pid " + std::to_string(::getpid())), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find(dir.path().string()), std::string::npos) << e.what();
  }
  // Another node's lock in the same folder is independent.
  EXPECT_NO_THROW(InstanceLock::acquire(instance_lock_file(dir.path(), "other")));

  first.reset();  // released with its descriptor (as on any exit of the process)
  EXPECT_NO_THROW(InstanceLock::acquire(file));
}

TEST(InstanceLock, AnUnusableFolderIsReportedAsSuch) {
  try {
    InstanceLock::acquire("/nonexistent-lipsyncd-state/lipsyncd.lock");
    ADD_FAILURE() << "a lock in a missing folder";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), "folder_unusable");
  }
}

}  // namespace
}  // namespace lipsyncd::daemon
