package connect

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const service = "/spark.connect.SparkConnectService/"

// clientType names this client in the server's logs.
var clientType = "rcmlake/" + runtime.Version()

// rawCodec passes hand-encoded protobuf bytes through gRPC untouched. Its name is "proto",
// so the content type is the application/grpc+proto every server expects.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	switch m := v.(type) {
	case msg:
		return m, nil
	case *[]byte:
		return *m, nil
	}
	return nil, fmt.Errorf("spark connect: cannot encode %T", v)
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("spark connect: cannot decode into %T", v)
	}
	*p = append((*p)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

// Client is one Spark Connect session. Its methods may be called from several goroutines;
// the server runs a session's operations one after another or concurrently, as it does for
// any client.
type Client struct {
	remote  *Remote
	conn    *grpc.ClientConn
	session string
	user    msg
	md      metadata.MD
}

// Options tune Dial.
type Options struct {
	// TLS overrides the TLS settings used when the remote asks for use_ssl (tests: a private
	// CA). Nil means the system roots.
	TLS *tls.Config
	// ConnectTimeout bounds the first contact with the server (default 20 s): a bad endpoint
	// fails fast with a clear error rather than hanging the first query.
	ConnectTimeout time.Duration
}

// Dial parses a connection string, opens a gRPC channel and checks that a Spark Connect
// server answers (a Config get), so a wrong endpoint fails here.
func Dial(ctx context.Context, conn string, opts Options) (*Client, error) {
	r, err := ParseRemote(conn)
	if err != nil {
		return nil, err
	}
	return DialRemote(ctx, r, opts)
}

// DialRemote is Dial with a parsed remote.
func DialRemote(ctx context.Context, r *Remote, opts Options) (*Client, error) {
	creds := insecure.NewCredentials()
	if r.UseSSL {
		tc := opts.TLS
		if tc == nil {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		creds = credentials.NewTLS(tc)
	}
	cc, err := grpc.NewClient("passthrough:///"+r.Address(),
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{}), grpc.MaxCallRecvMsgSize(128<<20)))
	if err != nil {
		return nil, fmt.Errorf("spark connect %s: %w", r, err)
	}
	c := &Client{remote: r, conn: cc, session: r.SessionID, md: metadata.New(r.Metadata())}
	if c.session == "" {
		c.session = uuid.NewString()
	}
	user := r.UserID
	if user == "" {
		user = "rcmlake"
	}
	c.user = msg(nil).str(userID, user).str(userName, user)
	timeout := opts.ConnectTimeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := c.getConf(pctx, []string{"spark.sql.session.timeZone"}, grpc.WaitForReady(true)); err != nil {
		cc.Close()
		if errors.Is(pctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, fmt.Errorf("spark connect %s: no answer within %v: is a Spark Connect server running there? (%w)", r, timeout, err)
		}
		return nil, fmt.Errorf("spark connect %s: %w", r, err)
	}
	return c, nil
}

// SessionID is the session's UUID.
func (c *Client) SessionID() string { return c.session }

// Remote is the parsed connection string.
func (c *Client) Remote() *Remote { return c.remote }

// Close releases the server-side session and closes the channel.
func (c *Client) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := msg(nil).str(reqSessionID, c.session).sub(reqUserContext, c.user).str(relClientType, clientType)
	var resp []byte
	_ = c.conn.Invoke(c.ctx(ctx), service+"ReleaseSession", req, &resp)
	return c.conn.Close()
}

func (c *Client) ctx(ctx context.Context) context.Context {
	return metadata.NewOutgoingContext(ctx, c.md)
}

// Error is an error the server reported, with Spark's message (which starts with the error
// class, e.g. "[TABLE_OR_VIEW_NOT_FOUND] ...").
type Error struct {
	Code    codes.Code
	Message string
}

func (e *Error) Error() string { return "spark: " + e.Message }

// wrap turns a gRPC status into an *Error; transport failures keep the endpoint in the text.
func (c *Client) wrap(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
			return fmt.Errorf("spark connect %s: %s: %s", c.remote, s.Code(), s.Message())
		}
		return &Error{Code: s.Code(), Message: s.Message()}
	}
	return err
}

// Response is one ExecutePlan answer, collected.
type Response struct {
	Batches    [][]byte // Arrow IPC streams, one per batch, in order
	Schema     []byte   // spark.connect.DataType of the result, when sent
	SQLResult  []byte   // ExecutePlanResponse.SqlCommandResult, when sent
	Complete   bool     // the server sent ResultComplete
	Operation  string
	ServerSide string // server-side session id
}

// execute runs one plan and collects its streamed responses.
func (c *Client) execute(ctx context.Context, plan msg) (*Response, error) {
	req := msg(nil).str(reqSessionID, c.session).sub(reqUserContext, c.user).sub(execPlan, plan).
		str(execClientType, clientType).str(execOpID, uuid.NewString())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.conn.NewStream(c.ctx(ctx), &grpc.StreamDesc{ServerStreams: true}, service+"ExecutePlan")
	if err != nil {
		return nil, c.wrap(err)
	}
	if err := st.SendMsg(req); err != nil {
		return nil, c.wrap(err)
	}
	if err := st.CloseSend(); err != nil {
		return nil, c.wrap(err)
	}
	out := &Response{}
	for {
		var b []byte
		if err := st.RecvMsg(&b); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, c.wrap(err)
		}
		fs, err := fields(b)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			switch f.num {
			case respArrowBatch:
				sub, err := fields(f.bytes)
				if err != nil {
					return nil, err
				}
				for _, s := range sub {
					if s.num == batchData {
						out.Batches = append(out.Batches, s.bytes)
					}
				}
			case respSchema:
				out.Schema = f.bytes
			case respSQLResult:
				out.SQLResult = f.bytes
			case respResultComplete:
				out.Complete = true
			case respOperationID:
				out.Operation = string(f.bytes)
			case respServerSession:
				out.ServerSide = string(f.bytes)
			}
		}
	}
}

// Exec runs a SQL statement as a command (DDL, INSERT, SET, CREATE VIEW ...): the server runs
// it eagerly, and it has finished when Exec returns.
func (c *Client) Exec(ctx context.Context, sql string) error {
	cmd := msg(nil).sub(cmdSQL, msg(nil).sub(sqlCmdInput, sqlRelation(sql)))
	_, err := c.execute(ctx, msg(nil).sub(planCommand, cmd))
	return err
}

// Query runs a SQL query and returns its rows, read from the Arrow batches.
func (c *Client) Query(ctx context.Context, sql string) (*Result, error) {
	resp, err := c.execute(ctx, msg(nil).sub(planRoot, sqlRelation(sql)))
	if err != nil {
		return nil, err
	}
	return decodeResult(resp)
}

// CreateParquetView makes (or replaces) a temporary view over exactly these Parquet files,
// read by column name: how bronze loads and Delta data files reach Spark SQL without a table
// in a catalog. schema (DDL, "a BIGINT, b STRING") fixes the columns and types; a file
// without a column reads it as NULL. Empty schema: inferred from the files.
func (c *Client) CreateParquetView(ctx context.Context, name string, paths []string, schema string, options map[string]string, selectExprs ...string) error {
	rel := parquetRelation(paths, schema, options)
	if len(selectExprs) > 0 {
		rel = projectRelation(rel, selectExprs)
	}
	view := msg(nil).sub(viewInput, rel).str(viewName, name).boolean(viewGlobal, false).boolean(viewReplace, true)
	_, err := c.execute(ctx, msg(nil).sub(planCommand, msg(nil).sub(cmdCreateView, view)))
	return err
}

// SetConf sets session configuration values.
func (c *Client) SetConf(ctx context.Context, kv map[string]string) error {
	set := msg(nil)
	for k, v := range kv {
		set = set.sub(setPairs, msg(nil).str(kvKey, k).str(kvValue, v))
	}
	_, err := c.config(ctx, msg(nil).sub(opSet, set))
	return err
}

// GetConf reads session configuration values; a key the server does not know is an error.
func (c *Client) GetConf(ctx context.Context, keys ...string) (map[string]string, error) {
	return c.getConf(ctx, keys)
}

func (c *Client) getConf(ctx context.Context, keys []string, opts ...grpc.CallOption) (map[string]string, error) {
	get := msg(nil)
	for _, k := range keys {
		get = get.str(getKeys, k)
	}
	return c.config(ctx, msg(nil).sub(opGet, get), opts...)
}

func (c *Client) config(ctx context.Context, op msg, opts ...grpc.CallOption) (map[string]string, error) {
	req := msg(nil).str(reqSessionID, c.session).sub(reqUserContext, c.user).sub(confOperation, op).str(confClientType, clientType)
	var resp []byte
	if err := c.conn.Invoke(c.ctx(ctx), service+"Config", req, &resp, opts...); err != nil {
		return nil, c.wrap(err)
	}
	fs, err := fields(resp)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, f := range fs {
		if f.num != confPairs {
			continue
		}
		kv, err := fields(f.bytes)
		if err != nil {
			return nil, err
		}
		var k, v string
		for _, p := range kv {
			switch p.num {
			case kvKey:
				k = string(p.bytes)
			case kvValue:
				v = string(p.bytes)
			}
		}
		out[k] = v
	}
	return out, nil
}
