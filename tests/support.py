"""Small helpers shared by tests that start servers of their own or look into the database."""

import socket


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_text() -> str:
    """Every value of every table as text, with sessions decoded (their data is stored encoded)."""
    from django.contrib.sessions.models import Session
    from django.db import connection

    values = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                values += [bytes(v).decode("utf-8", "replace") if isinstance(v, bytes | memoryview) else str(v) for v in row]
    values += [str(session.get_decoded()) for session in Session.objects.all()]
    return "\n".join(values)
