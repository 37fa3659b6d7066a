#pragma once
// A real, throwaway PostgreSQL server for tests (fleet mode's job store): its own cluster in a
// temporary folder, listening on 127.0.0.1 at a free port and on a socket in that folder,
// with fsync off (tests need no durability, and it keeps them fast). Debian 12's
// `postgresql` package (.ci/install-deps) provides initdb and pg_ctl; the package's own
// cluster is neither needed nor touched.
//
// initdb and postgres refuse to run as root, so under root (CI) they run as `nobody` through
// runuser(1); otherwise as the current user. One initdb per user and PostgreSQL version is
// kept as a template in the temp folder and copied for every server (saves ~1 s a server).
// A watchdog process stops the server and removes its folder if the test process dies
// without doing so (kill -9, a ctest timeout).
//
//   auto server = PostgresServer::start();           // throws std::runtime_error on failure
//   server->create_database("jobs");                 // idempotent
//   std::string url = server->url("jobs");           // postgresql://postgres@127.0.0.1:PORT/jobs
//   server->execute("jobs", "DELETE FROM jobs WHERE id = $1", {id});
//   server->stop();  ...  server->start_again();     // an outage: same port, same data

#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace lipsyncd::test {

class PostgresServer {
 public:
  static std::unique_ptr<PostgresServer> start() {
    auto server = std::make_unique<PostgresServer>(Private{});
    server->create_cluster();
    server->start_watchdog();
    constexpr int kAttempts = 3;  // a free port may be taken before postgres binds it
    for (int attempt = 1;; ++attempt) {
      server->port_ = free_port();
      if (server->pg_ctl_start()) break;
      if (attempt == kAttempts) server->fail("pg_ctl start failed");
    }
    server->running_ = true;
    server->wait_until_accepting();
    return server;
  }

  ~PostgresServer() {
    if (running_) pg_ctl_stop("immediate");  // no shutdown checkpoint: the data goes anyway
    std::error_code ignored;
    std::filesystem::remove_all(folder_, ignored);
    if (watchdog_pipe_ >= 0) ::close(watchdog_pipe_);  // the watchdog finds nothing to do
    if (watchdog_ > 0) ::waitpid(watchdog_, nullptr, 0);
  }
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  int port() const { return port_; }
  const std::filesystem::path& folder() const { return folder_; }
  bool running() const { return running_; }

  // The libpq URI of `database` as the superuser `postgres` (trust authentication: no
  // password anywhere).
  std::string url(const std::string& database) const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
  }

  // CREATE DATABASE, unless it exists already.
  void create_database(const std::string& name) {
    auto connection = connect("postgres");
    char* quoted = PQescapeIdentifier(connection.get(), name.c_str(), name.size());
    const std::string sql = std::string("CREATE DATABASE ") + quoted;
    PQfreemem(quoted);
    // FILE_COPY (PostgreSQL 15+) copies template1's files, several times faster than the
    // default WAL_LOG with fsync off; older servers do not know it (42601).
    Result result(PQexec(connection.get(), (sql + " STRATEGY = FILE_COPY").c_str()));
    if (const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
        state != nullptr && std::string(state) == "42601") {
      result.reset(PQexec(connection.get(), sql.c_str()));
    }
    const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
    const std::string sqlstate = state != nullptr ? state : "";
    // 42P04: it exists; 23505: another thread created it at the same moment.
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK && sqlstate != "42P04" &&
        sqlstate != "23505") {
      throw std::runtime_error("CREATE DATABASE " + name + ": " +
                               PQresultErrorMessage(result.get()));
    }
  }

  // One statement as the superuser, with text parameters ($1, ...); returns the first
  // column of the first row ("" when there is none).
  std::string execute(const std::string& database, const std::string& sql,
                      const std::vector<std::string>& params = {}) {
    auto connection = connect(database);
    std::vector<const char*> values;
    for (const auto& value : params) values.push_back(value.c_str());
    Result result(PQexecParams(connection.get(), sql.c_str(), static_cast<int>(values.size()),
                               nullptr, values.data(), nullptr, nullptr, 0));
    const auto status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      throw std::runtime_error(sql + ": " + PQresultErrorMessage(result.get()));
    }
    if (PQntuples(result.get()) == 0 || PQnfields(result.get()) == 0) return "";
    return PQgetvalue(result.get(), 0, 0);
  }

  // An outage: the server goes away (connections are cut)...
  void stop() {
    if (!running_) return;
    if (!pg_ctl_stop("fast")) fail("pg_ctl stop failed");
    running_ = false;
  }
  // ...and comes back on the same port with the same data.
  void start_again() {
    if (running_) return;
    if (!pg_ctl_start()) fail("pg_ctl start (again) failed on port " + std::to_string(port_));
    running_ = true;
    wait_until_accepting();
  }

  // The server's log so far (for a failing test's message).
  std::string log() const { return read_file(folder_ / "server.log"); }

 private:
  struct ClearResult {
    void operator()(PGresult* result) const { PQclear(result); }
  };
  using Result = std::unique_ptr<PGresult, ClearResult>;
  struct FinishConnection {
    void operator()(PGconn* connection) const { PQfinish(connection); }
  };

  struct Private {};  // only start() makes one

 public:
  explicit PostgresServer(Private) : bindir_(find_bindir()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "lipsyncd-pg-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    folder_ = pattern;
    give_to_server_user(folder_);
  }

 private:
  static std::string read_file(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("test PostgreSQL in " + folder_.string() + ": " + what + "\n" +
                             read_file(folder_ / "commands.log") + log());
  }

  // LIPSYNCD_PG_BINDIR, else the newest /usr/lib/postgresql/<version>/bin (Debian's layout).
  static std::filesystem::path find_bindir() {
    if (const char* dir = std::getenv("LIPSYNCD_PG_BINDIR"); dir != nullptr && *dir != '\0') {
      return dir;
    }
    std::filesystem::path best;
    int best_version = 0;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
      const int version = std::atoi(entry.path().filename().c_str());
      if (version > best_version && std::filesystem::exists(entry.path() / "bin" / "initdb")) {
        best_version = version;
        best = entry.path() / "bin";
      }
    }
    if (best.empty()) {
      throw std::runtime_error(
          "no PostgreSQL server binaries under /usr/lib/postgresql: run .ci/install-deps "
          "(Debian package postgresql) or set LIPSYNCD_PG_BINDIR");
    }
    return best;
  }

  static bool is_root() { return ::geteuid() == 0; }

  // The unprivileged account initdb and postgres run as when the tests run as root.
  struct ServerUser {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;
  };
  static const ServerUser& server_user() {
    static const ServerUser user = [] {
      const passwd* entry = ::getpwnam("nobody");
      if (entry == nullptr) throw std::runtime_error("no user `nobody` to run PostgreSQL as");
      return ServerUser{entry->pw_name, entry->pw_uid, entry->pw_gid};
    }();
    return user;
  }

  static void give_to_server_user(const std::filesystem::path& path) {
    if (is_root() && ::chown(path.c_str(), server_user().uid, server_user().gid) != 0) {
      throw std::runtime_error("cannot chown " + path.string());
    }
  }

  static std::filesystem::path runuser() {
    for (const char* candidate : {"/usr/sbin/runuser", "/sbin/runuser"}) {
      if (std::filesystem::exists(candidate)) return candidate;
    }
    throw std::runtime_error("runuser not found (util-linux) to run PostgreSQL as nobody");
  }

  // Runs argv (as the server user), output appended to `log`; true on exit status 0.
  static bool run(std::vector<std::string> argv, const std::filesystem::path& log) {
    if (is_root()) {
      argv.insert(argv.begin(), {runuser().string(), "-u", server_user().name, "--"});
    }
    std::vector<char*> args;
    for (auto& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return false;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

  std::filesystem::path data_dir() const { return folder_ / "data"; }
  std::filesystem::path commands_log() const { return folder_ / "commands.log"; }

  // A pristine initdb output, made once per user and PostgreSQL build under a file lock
  // (ctest runs test processes in parallel), published by rename so it is whole or absent.
  std::filesystem::path cluster_template() const {
    const auto tmp = std::filesystem::temp_directory_path();
    const std::string key = "v2-" + std::to_string(::geteuid()) + "-" +
                            std::to_string(std::hash<std::string>{}(bindir_.string()) % 1000000);
    const auto template_dir = tmp / ("lipsyncd-pg-template-" + key);
    if (std::filesystem::exists(template_dir / "PG_VERSION")) return template_dir;

    const auto lock_file = tmp / ("lipsyncd-pg-template-" + key + ".lock");
    const int lock = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0 || ::flock(lock, LOCK_EX) != 0) fail("cannot lock " + lock_file.string());
    struct Unlock {
      int fd;
      ~Unlock() { ::close(fd); }
    } unlock{lock};
    if (std::filesystem::exists(template_dir / "PG_VERSION")) return template_dir;

    const auto building = tmp / ("lipsyncd-pg-template-" + key + ".building");
    std::error_code ignored;
    std::filesystem::remove_all(building, ignored);
    std::filesystem::create_directories(building);
    give_to_server_user(building);
    if (!run({(bindir_ / "initdb").string(), "-D", (building / "data").string(), "-A", "trust",
              "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync", "--wal-segsize=1"},
             commands_log())) {
      fail("initdb failed");
    }
    std::filesystem::rename(building / "data", template_dir);
    std::filesystem::remove_all(building, ignored);
    return template_dir;
  }

  void create_cluster() {
    const auto from = cluster_template();
    if (!run({"/bin/cp", "-a", from.string(), data_dir().string()}, commands_log())) {
      fail("cannot copy the cluster template " + from.string());
    }
  }

  // `sh` that waits for this process's end (EOF on its stdin, a pipe only this process holds)
  // and then stops the server and removes the folder: no server outlives a killed test.
  void start_watchdog() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) fail("pipe2 failed");
    std::string stop =
        (is_root() ? runuser().string() + " -u " + server_user().name + " -- " : std::string()) +
        (bindir_ / "pg_ctl").string() + " stop -m immediate -D " + data_dir().string();
    std::string script = "cat >/dev/null; " + stop + " >/dev/null 2>&1; rm -rf " + folder_.string();
    std::vector<std::string> argv{"/bin/sh", "-c", script};
    std::vector<char*> args;
    for (auto& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);  // outlives a group kill
    posix_spawnattr_setpgroup(&attributes, 0);
    const int rc = posix_spawn(&watchdog_, args[0], &actions, &attributes, args.data(), environ);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[0]);
    if (rc != 0) {
      ::close(fds[1]);
      fail("cannot start the watchdog");
    }
    watchdog_pipe_ = fds[1];
  }

  static int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      if (fd >= 0) ::close(fd);
      throw std::runtime_error("no free port on 127.0.0.1");
    }
    ::close(fd);
    return ntohs(address.sin_port);
  }

  bool pg_ctl_start() {
    const std::string options = "-k " + folder_.string() + " -p " + std::to_string(port_) +
                                " -c listen_addresses=127.0.0.1 -c fsync=off "
                                "-c synchronous_commit=off -c full_page_writes=off";
    return run({(bindir_ / "pg_ctl").string(), "start", "-w", "-t", "60", "-D", data_dir().string(),
                "-l", (folder_ / "server.log").string(), "-o", options},
               commands_log());
  }

  bool pg_ctl_stop(const std::string& mode) {
    return run({(bindir_ / "pg_ctl").string(), "stop", "-w", "-t", "60", "-m", mode, "-D",
                data_dir().string()},
               commands_log());
  }

  std::unique_ptr<PGconn, FinishConnection> connect(const std::string& database) const {
    std::unique_ptr<PGconn, FinishConnection> connection(PQconnectdb(url(database).c_str()));
    if (PQstatus(connection.get()) != CONNECTION_OK) {
      throw std::runtime_error("cannot connect to " + url(database) + ": " +
                               PQerrorMessage(connection.get()));
    }
    return connection;
  }

  void wait_until_accepting() const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    const std::string conninfo = url("postgres");
    while (PQping(conninfo.c_str()) != PQPING_OK) {
      if (std::chrono::steady_clock::now() > deadline) fail("does not accept connections");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  std::filesystem::path bindir_;
  std::filesystem::path folder_;
  int port_ = 0;
  bool running_ = false;
  pid_t watchdog_ = -1;
  int watchdog_pipe_ = -1;
};

}  // namespace lipsyncd::test
