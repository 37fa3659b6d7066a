#pragma once
// A small RAII layer over libpq: one connection that comes back by itself after the server
// went away, parameterised statements ($1, $2, ... in text format: values never become part
// of the SQL), results, and transactions that roll back unless committed.
//
// Failures become lipsyncd::Error:
//   "store_unreachable" (transient) the server cannot be reached or the connection broke; the
//                       next call connects again, so the daemon retries later;
//   "store_error"       (transient) the server refused a statement (a full disk, a conflict);
//   "bad_config"        the url is not a libpq URI, or it carries a password.

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lipsyncd::spool::pg {

// One parameter in text format; nullopt is SQL NULL.
using Param = std::optional<std::string>;
using Params = std::vector<Param>;

inline Param param(std::string_view text) {
  return std::string(text);
}
inline Param param(const std::string& text) {
  return text;
}
inline Param param(const char* text) {
  return std::string(text);
}
Param param(std::int64_t value);
Param param(double value);
Param param(bool value);
inline Param param(const std::optional<std::string>& text) {
  return text;
}
inline Param param(const std::optional<std::int64_t>& value) {
  return value ? param(*value) : std::nullopt;
}

class Result {
 public:
  explicit Result(PGresult* result) : result_(result) {}

  const PGresult* get() const { return result_.get(); }
  int rows() const { return PQntuples(result_.get()); }
  bool is_null(int row, int column) const;
  std::string text(int row, int column) const;
  std::int64_t integer(int row, int column) const;
  double real(int row, int column) const;
  bool boolean(int row, int column) const;
  std::optional<std::string> optional_text(int row, int column) const;
  std::optional<std::int64_t> optional_integer(int row, int column) const;

 private:
  struct Clear {
    void operator()(PGresult* result) const { PQclear(result); }
  };
  std::unique_ptr<PGresult, Clear> result_;
};

class Connection {
 public:
  // Checks the url (no password in it: PGPASSWORD, ~/.pgpass or PGPASSFILE hold it) and
  // connects. `application_name` is what pg_stat_activity shows (unless the url sets it).
  // Throws "bad_config" or "store_unreachable".
  Connection(std::string url, std::string application_name);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // One statement with parameters. Outside a transaction a broken connection is replaced
  // (and a statement that found its idle connection dead is sent again on a new one); inside
  // one it is not (the transaction is gone with it): "store_unreachable".
  Result exec(std::string_view sql, const Params& params = {});
  // Several statements without parameters (a migration step).
  void exec_script(const std::string& sql);
  template <typename... Args>
  Result query(std::string_view sql, const Args&... args) {
    return exec(sql, Params{param(args)...});
  }

  // For Transaction.
  void begin();
  void commit();
  void rollback() noexcept;

  // The url without its query string, for messages.
  const std::string& where() const { return where_; }

 private:
  struct Finish {
    void operator()(PGconn* connection) const { PQfinish(connection); }
  };
  void connect();
  // Connects when there is no live connection (not inside a transaction: it died with the
  // connection); true when it did.
  bool reconnect_unless_in_transaction();
  // Sends a statement through `send`; on a connection that went stale while idle, once more
  // on a new one.
  Result run(const std::string& sql, const std::function<PGresult*()>& send);
  bool lost(const PGresult* result) const;
  static bool succeeded(const Result& result);
  [[noreturn]] void fail(const PGresult* result, std::string_view sql);

  std::string url_;
  std::string application_name_;
  std::string where_;
  std::unique_ptr<PGconn, Finish> connection_;
  bool in_transaction_ = false;
};

// BEGIN ... COMMIT (READ COMMITTED: row locks and advisory locks do the serialising, see the
// store). The destructor rolls back a transaction that was not committed.
class Transaction {
 public:
  explicit Transaction(Connection& connection) : connection_(connection) { connection_.begin(); }
  ~Transaction() {
    if (!done_) connection_.rollback();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    done_ = true;  // a failed COMMIT ends the transaction too
    connection_.commit();
  }

 private:
  Connection& connection_;
  bool done_ = false;
};

// Refuses a url that is not a postgresql:// URI libpq understands, or that holds a password.
void check_url(const std::string& url);

}  // namespace lipsyncd::spool::pg
