#include "connection.hpp"

#include <charconv>
#include <functional>
#include <system_error>

#include "lipsyncd/core/error.hpp"

namespace lipsyncd::spool::pg {
namespace {

constexpr const char* kUrlHint =
    "set [store] url to postgresql://USER@HOST:PORT/DATABASE and give the password through "
    "PGPASSWORD, ~/.pgpass or PGPASSFILE (or a systemd credential exported as one of them)";

struct FreeOptions {
  void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
};

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// What a message may show of the url: no query string (it could carry other secrets).
std::string printable(const std::string& url) {
  return url.substr(0, url.find('?'));
}

// The server is gone, going or not there yet: SQLSTATE class 08 (connection exception),
// 57P01..57P03 (admin/crash shutdown, cannot connect now).
bool means_connection_lost(const std::string& sqlstate) {
  return sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03";
}

Error unreachable(const std::string& where, const std::string& why) {
  return Error("store_unreachable", "cannot reach the job store database " + where + ": " + why,
               "check that PostgreSQL is running and reachable from this host; lipsyncd keeps "
               "the files safe and tries again",
               Permanence::transient);
}

// libpq prints notices ("relation already exists, skipping") to stderr by default; the
// daemon's log is not the place for the server's chatter.
void ignore_notice(void*, const char*) {}

template <typename Number>
Number parse_number(const char* text, int length) {
  Number value{};
  const auto [end, ec] = std::from_chars(text, text + length, value);
  if (ec != std::errc() || end != text + length) {
    throw Error("store_corrupt", "the job store database returned \"" +
                                     std::string(text, static_cast<std::size_t>(length)) +
                                     "\" where a number belongs");
  }
  return value;
}

}  // namespace

Param param(std::int64_t value) {
  return std::to_string(value);
}

Param param(double value) {
  char text[32];
  const auto [end, ec] = std::to_chars(text, text + sizeof text, value);  // shortest round trip
  return std::string(text, end);
}

Param param(bool value) {
  return std::string(value ? "true" : "false");
}

bool Result::is_null(int row, int column) const {
  return PQgetisnull(result_.get(), row, column) != 0;
}

std::string Result::text(int row, int column) const {
  return std::string(PQgetvalue(result_.get(), row, column),
                     static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
}

std::int64_t Result::integer(int row, int column) const {
  return parse_number<std::int64_t>(PQgetvalue(result_.get(), row, column),
                                    PQgetlength(result_.get(), row, column));
}

double Result::real(int row, int column) const {
  return parse_number<double>(PQgetvalue(result_.get(), row, column),
                              PQgetlength(result_.get(), row, column));
}

bool Result::boolean(int row, int column) const {
  return PQgetvalue(result_.get(), row, column)[0] == 't';
}

std::optional<std::string> Result::optional_text(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return text(row, column);
}

std::optional<std::int64_t> Result::optional_integer(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return integer(row, column);
}

void check_url(const std::string& url) {
  if (!url.starts_with("postgresql://") && !url.starts_with("postgres://")) {
    throw Error("bad_config", "[store] url \"" + printable(url) + "\" is not a postgresql:// url",
                kUrlHint);
  }
  char* message = nullptr;
  std::unique_ptr<PQconninfoOption, FreeOptions> options(PQconninfoParse(url.c_str(), &message));
  if (!options) {
    const std::string why = message != nullptr ? trimmed(message) : "out of memory";
    PQfreemem(message);
    throw Error("bad_config", "[store] url \"" + printable(url) + "\" is invalid: " + why,
                kUrlHint);
  }
  for (const PQconninfoOption* option = options.get(); option->keyword != nullptr; ++option) {
    if (std::string_view(option->keyword) == "password" && option->val != nullptr &&
        option->val[0] != '\0') {
      throw Error("bad_config",
                  "[store] url \"" + printable(url).substr(0, url.find("://") + 3) +
                      "...\" contains a password; the configuration file is no place for it",
                  "remove the password from the url and give it through PGPASSWORD, ~/.pgpass "
                  "or PGPASSFILE (or a systemd credential exported as one of them)");
    }
  }
}

Connection::Connection(std::string url, std::string application_name)
    : url_(std::move(url)),
      application_name_(std::move(application_name)),
      where_(printable(url_)) {
  check_url(url_);
  connect();
}

Connection::~Connection() = default;

void Connection::connect() {
  connection_.reset();
  // Ours first: the url's own settings (later in the list) override them. A dead host must
  // not hang a call for minutes; a silent peer is noticed by keepalives within ~30 s.
  const char* keywords[] = {"application_name",
                            "connect_timeout",
                            "keepalives_idle",
                            "keepalives_interval",
                            "keepalives_count",
                            "dbname",
                            nullptr};
  const char* values[] = {application_name_.c_str(), "10", "10", "5", "3", url_.c_str(), nullptr};
  connection_.reset(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  if (!connection_) throw unreachable(where_, "out of memory");
  if (PQstatus(connection_.get()) != CONNECTION_OK) {
    const std::string why = trimmed(PQerrorMessage(connection_.get()));
    const bool needs_password = PQconnectionNeedsPassword(connection_.get()) != 0;
    connection_.reset();
    if (needs_password) {
      throw Error("store_unreachable",
                  "the job store database " + where_ + " wants a password: " + why, kUrlHint,
                  Permanence::transient);
    }
    throw unreachable(where_, why);
  }
  PQsetNoticeProcessor(connection_.get(), ignore_notice, nullptr);
}

bool Connection::reconnect_unless_in_transaction() {
  if (connection_ && PQstatus(connection_.get()) == CONNECTION_OK) return false;
  if (in_transaction_) throw unreachable(where_, "the connection broke during a transaction");
  connect();
  return true;
}

bool Connection::lost(const PGresult* result) const {
  const char* sqlstate = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  return PQstatus(connection_.get()) != CONNECTION_OK ||
         (sqlstate != nullptr && means_connection_lost(sqlstate));
}

Result Connection::run(const std::string& sql, const std::function<PGresult*()>& send) {
  const bool fresh = reconnect_unless_in_transaction();
  Result result(send());
  if (!succeeded(result) && !fresh && !in_transaction_ && lost(result.get())) {
    // The connection went stale while idle (the server restarted meanwhile). Outside a
    // transaction only reads and BEGIN run, so sending the statement again is safe.
    connect();
    result = Result(send());
  }
  if (!succeeded(result)) fail(result.get(), sql);
  return result;
}

Result Connection::exec(std::string_view sql, const Params& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& value : params) values.push_back(value ? value->c_str() : nullptr);
  const std::string statement(sql);
  return run(statement, [&] {
    return PQexecParams(connection_.get(), statement.c_str(), static_cast<int>(values.size()),
                        nullptr, values.data(), nullptr, nullptr, /*resultFormat=*/0);
  });
}

void Connection::exec_script(const std::string& sql) {
  run(sql, [&] { return PQexec(connection_.get(), sql.c_str()); });
}

bool Connection::succeeded(const Result& result) {
  const auto status = PQresultStatus(result.get());
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

void Connection::fail(const PGresult* result, std::string_view sql) {
  const char* field = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = field != nullptr ? field : "";
  std::string why = trimmed(result != nullptr ? PQresultErrorMessage(result) : "");
  if (why.empty()) why = trimmed(PQerrorMessage(connection_.get()));
  if (lost(result)) {
    connection_.reset();  // the next call outside a transaction connects again
    if (sql == "COMMIT") why += " (the last change may or may not have been committed)";
    throw unreachable(where_, why);
  }
  throw Error("store_error",
              "job store database " + where_ + ": \"" + std::string(sql.substr(0, 60)) +
                  "...\" failed: " + why + (sqlstate.empty() ? "" : " (SQLSTATE " + sqlstate + ")"),
              "check the PostgreSQL server's log, its free space and the user's privileges",
              Permanence::transient);
}

void Connection::begin() {
  exec("BEGIN");
  in_transaction_ = true;
}

void Connection::commit() {
  // Still "in the transaction" while COMMIT runs: a broken connection must not be replaced
  // by a fresh one that would answer a bare COMMIT with success.
  struct EndOfTransaction {
    bool& in_transaction;
    ~EndOfTransaction() { in_transaction = false; }
  } end{in_transaction_};
  exec("COMMIT");
}

void Connection::rollback() noexcept {
  in_transaction_ = false;
  // Best effort by design: on a broken connection the server has rolled back already.
  if (connection_ && PQstatus(connection_.get()) == CONNECTION_OK) {
    PQclear(PQexec(connection_.get(), "ROLLBACK"));
  }
}

}  // namespace lipsyncd::spool::pg
