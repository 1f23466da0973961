"""Staff accounts: password hashing, users and login sessions.

Passwords are hashed with scrypt (standard library, memory-hard) and a random salt.
A login session is a random token in an HttpOnly cookie; the database keeps only
its SHA-256, with the session's CSRF token that every form and API call must echo.
"""
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from bot.shop.db import STAFF_ROLES, LoginSession, StaffUser, transaction, utcnow
from bot.errors import InvalidInput

SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD_LENGTH = 8
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(candidate.hex(), digest)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(session: Session, shop_id: int, username: str, password: str, role: str, display_name: str = "") -> StaffUser:
    if role not in STAFF_ROLES:
        raise InvalidInput(f"Unknown role {role!r}; one of {', '.join(STAFF_ROLES)}.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.")
    existing = session.execute(
        select(StaffUser).where(StaffUser.shop_id == shop_id, StaffUser.username == username)
    ).scalar_one_or_none()
    if existing is not None:
        raise InvalidInput(f"The user {username!r} already exists.")
    user = StaffUser(
        shop_id=shop_id, username=username, display_name=display_name or username,
        role=role, password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    return user


def log_in(sessions: sessionmaker, username: str, password: str) -> Optional[str]:
    """A new session token for the right username and password, else None."""
    with transaction(sessions) as session:
        user = session.execute(select(StaffUser).where(StaffUser.username == username)).scalars().first()
        if user is None or not verify_password(password, user.password_hash):
            return None
        token = secrets.token_urlsafe(32)
        session.execute(delete(LoginSession).where(LoginSession.expires_at < utcnow()))
        session.add(LoginSession(
            token_hash=_token_hash(token), user_id=user.id,
            csrf_token=secrets.token_urlsafe(24), expires_at=utcnow() + SESSION_LIFETIME,
        ))
    return token


def session_of(sessions: sessionmaker, token: str, now: Optional[datetime] = None) -> Optional[LoginSession]:
    """The live login session of this cookie token (with its user), or None."""
    if not token:
        return None
    with sessions() as session:
        login = session.execute(
            select(LoginSession).where(LoginSession.token_hash == _token_hash(token))
        ).scalar_one_or_none()
    if login is None or login.expires_at <= (now or utcnow()):
        return None
    return login


def log_out(sessions: sessionmaker, token: str) -> None:
    with transaction(sessions) as session:
        session.execute(delete(LoginSession).where(LoginSession.token_hash == _token_hash(token)))
