// Who may run on a state folder (issue 10 case 6, issue 14): one daemon with the SQLite store,
// one per [fleet] node in a fleet. flock(2) locks belong to an open file description, so a
// second acquire in the same process conflicts exactly as a second process would; one test
// holds the lock in a real child process all the same.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/core/unique_fd.hpp"
#include "lipsyncd/daemon/instance_lock.hpp"
#include "test_media.hpp"

namespace lipsyncd::daemon {
namespace {

constexpr auto kSqlite = StateFolderUse::one_daemon;
constexpr auto kFleet = StateFolderUse::one_per_node;

// The message of the "already_running" refusal `acquire` throws, or a failure.
template <typename Acquire>
std::string refusal(Acquire acquire) {
  try {
    acquire();
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), "already_running") << e.what();
    return std::string(e.what()) + " | " + e.hint();
  }
  ADD_FAILURE() << "two holders of one lock";
  return {};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string our_pid() {
  return "pid " + std::to_string(::getpid());
}

TEST(InstanceLock, TheLockFilesLiveInTheStateFolder) {
  EXPECT_EQ(instance_lock_file("/var/lib/lipsyncd"), "/var/lib/lipsyncd/lipsyncd.lock");
  EXPECT_EQ(instance_lock_file("/var/lib/lipsyncd", "node-a"),
            "/var/lib/lipsyncd/lipsyncd-node-a.lock");
}

TEST(InstanceLock, WithSqliteASecondDaemonIsRefusedWhateverItsNodeName) {
  test::TempDir dir;
  std::optional<InstanceLock> first = InstanceLock::acquire(dir.path(), "a", kSqlite);
  EXPECT_EQ(first->file(), instance_lock_file(dir.path()));

  const auto same = refusal([&] { InstanceLock::acquire(dir.path(), "a", kSqlite); });
  EXPECT_TRUE(contains(same, our_pid())) << same;
  EXPECT_TRUE(contains(same, dir.path().string())) << same;
  // Another node name changes nothing: the SQLite store is the folder's own.
  const auto other = refusal([&] { InstanceLock::acquire(dir.path(), "b", kSqlite); });
  EXPECT_TRUE(contains(other, "already running")) << other;
  EXPECT_TRUE(contains(other, "[store] url")) << "says how daemons may share: " << other;

  first.reset();  // released with its descriptor (as on any exit of the process)
  EXPECT_NO_THROW(InstanceLock::acquire(dir.path(), "b", kSqlite));
}

TEST(InstanceLock, FleetNodesShareTheFolderButEachNodeRunsOnce) {
  test::TempDir dir;
  std::optional<InstanceLock> a = InstanceLock::acquire(dir.path(), "node-a", kFleet);
  EXPECT_EQ(a->file(), instance_lock_file(dir.path(), "node-a"));
  std::optional<InstanceLock> b;
  EXPECT_NO_THROW(b.emplace(InstanceLock::acquire(dir.path(), "node-b", kFleet)));
  EXPECT_NO_THROW(InstanceLock::acquire(dir.path(), "node-c", kFleet));

  const auto twice = refusal([&] { InstanceLock::acquire(dir.path(), "node-a", kFleet); });
  EXPECT_TRUE(contains(twice, "[fleet] node = \"node-a\"")) << twice;
  EXPECT_TRUE(contains(twice, our_pid())) << twice;
  EXPECT_TRUE(contains(twice, "lipsyncd-node-a.lock")) << twice;

  a.reset();
  EXPECT_NO_THROW(a.emplace(InstanceLock::acquire(dir.path(), "node-a", kFleet)));
}

TEST(InstanceLock, ASqliteDaemonAndFleetNodesNeverShareAFolder) {
  test::TempDir dir;
  {
    const auto node = InstanceLock::acquire(dir.path(), "node-a", kFleet);
    const auto message = refusal([&] { InstanceLock::acquire(dir.path(), "node-a", kSqlite); });
    EXPECT_TRUE(contains(message, "fleet nodes")) << message;
    EXPECT_TRUE(contains(message, "no [store] url")) << message;
  }
  const auto sqlite = InstanceLock::acquire(dir.path(), "solo", kSqlite);
  const auto message = refusal([&] { InstanceLock::acquire(dir.path(), "node-a", kFleet); });
  EXPECT_TRUE(contains(message, "without [store] url")) << message;
  EXPECT_TRUE(contains(message, our_pid())) << message;
}

// A lipsyncd from before fleets takes lipsyncd.lock exclusively and knows no other lock: it
// and a fleet node keep each other off the folder, in both orders.
TEST(InstanceLock, ALipsyncdFromBeforeFleetsAndAFleetNodeExcludeEachOther) {
  test::TempDir dir;
  const auto legacy_file = instance_lock_file(dir.path());
  UniqueFd legacy(::open(legacy_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(legacy.valid());
  ASSERT_EQ(::flock(legacy.get(), LOCK_EX | LOCK_NB), 0);
  refusal([&] { InstanceLock::acquire(dir.path(), "node-a", kFleet); });
  ASSERT_EQ(::flock(legacy.get(), LOCK_UN), 0);

  const auto node = InstanceLock::acquire(dir.path(), "node-a", kFleet);
  EXPECT_NE(::flock(legacy.get(), LOCK_EX | LOCK_NB), 0) << "the old daemon would have started";
}

// A real second process: the lock a child holds keeps us off, naming the child's pid, and goes
// with the child.
TEST(InstanceLock, AnotherProcessHoldingTheNodeKeepsUsOffUntilItExits) {
  test::TempDir dir;
  int ready[2];
  int release[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(release), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    ::close(release[1]);
    try {
      const auto held = InstanceLock::acquire(dir.path(), "node-a", kFleet);
      char byte = 'r';
      if (::write(ready[1], &byte, 1) != 1) ::_exit(2);
      // Blocks until the parent closes its end (read returns 0).
      ::_exit(::read(release[0], &byte, 1) == 0 ? 0 : 3);
    } catch (const std::exception&) {
      ::_exit(1);  // the parent sees no "ready" byte and fails
    }
  }
  ::close(ready[1]);
  ::close(release[0]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1) << "the child did not get the lock";

  const auto message = refusal([&] { InstanceLock::acquire(dir.path(), "node-a", kFleet); });
  EXPECT_TRUE(contains(message, "pid " + std::to_string(child))) << message;
  EXPECT_NO_THROW(InstanceLock::acquire(dir.path(), "node-b", kFleet));

  ::close(release[1]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ::close(ready[0]);
  EXPECT_NO_THROW(InstanceLock::acquire(dir.path(), "node-a", kFleet));
}

TEST(InstanceLock, AnUnusableFolderIsReportedAsSuch) {
  for (const auto use : {kSqlite, kFleet}) {
    try {
      InstanceLock::acquire("/nonexistent-lipsyncd-state", "node-a", use);
      ADD_FAILURE() << "a lock in a missing folder";
    } catch (const Error& e) {
      EXPECT_EQ(e.reason_code(), "folder_unusable");
    }
  }
}

}  // namespace
}  // namespace lipsyncd::daemon
