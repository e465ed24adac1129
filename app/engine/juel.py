"""Translate simple JUEL conditions (Camunda 7's `${...}` expressions) into the engine's Python subset.

Accepted: names, string and number literals, true/false/null, the comparisons == != < > <= >= (and eq ne lt
gt le ge), && || ! (and and or not), unary minus and parentheses. Anything else (property access, method
calls, arithmetic, `empty`, the ternary operator) raises JuelError with a French message: the element is
refused rather than run with a guessed meaning.
"""

from __future__ import annotations

import keyword
import re

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<op>&&|\|\||==|!=|<=|>=|<|>|!|\(|\)|-)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)
_WORD_OPS = {"and": "&&", "or": "||", "not": "!", "eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=",
             "ge": ">="}
_LITERALS = {"true": "True", "false": "False", "null": "None"}
_UNSUPPORTED_WORDS = {"empty", "div", "mod", "instanceof", "some", "every", "satisfies", "if", "then", "else", "for",
                      "in", "between", "instance"}
_COMPARISONS = ("==", "!=", "<", ">", "<=", ">=")
# Python precedences of what we emit: operands of lower precedence get parentheses.
_OR, _AND, _NOT, _CMP, _UNARY, _ATOM = 1, 2, 3, 4, 8, 9


class JuelError(ValueError):
    """A JUEL expression outside the translated subset (the message is French)."""


def is_juel(text: str | None) -> bool:
    """Tell whether a condition is written as a JUEL expression (`${...}` or `#{...}`)."""
    stripped = (text or "").strip()
    return stripped[:2] in ("${", "#{") and stripped.endswith("}")


def translate(text: str) -> str:
    """The Python expression equivalent to a JUEL `${...}` expression; JuelError if outside the subset."""
    stripped = text.strip()
    if not is_juel(stripped):
        raise JuelError("expression JUEL attendue sous la forme ${...}")
    body = stripped[2:-1]
    if "${" in body or "#{" in body:
        raise JuelError("texte composite (plusieurs ${...}) non pris en charge")
    tokens = _tokens(body)
    parser = _Parser(tokens)
    source, _ = parser.expression()
    if parser.pos != len(tokens):
        raise JuelError(f"élément inattendu « {tokens[parser.pos][1]} »")
    return source


FEEL_LANGUAGES = ("feel", "https://www.omg.org/spec/dmn/20191111/feel/", "http://www.omg.org/spec/feel/20140401")


def is_feel(text: str | None, language: str | None = None) -> bool:
    """Tell whether a condition is a FEEL expression (Camunda 8's `= ...`, or a FEEL language attribute)."""
    return (text or "").strip().startswith("=") or (language or "").strip().lower() in FEEL_LANGUAGES


def translate_feel(text: str) -> str:
    """The Python expression for a simple FEEL condition (`= approved`, `= not(approved)`, `= amount > 10`)."""
    body = text.strip()
    body = body[1:] if body.startswith("=") else body
    body = re.sub(r"(?<![<>!=])=(?!=)", "==", body)  # FEEL's equality is a single =
    return translate("${" + body + "}")


def _tokens(body: str) -> list[tuple[str, str]]:
    found = []
    for match in _TOKEN.finditer(body):
        kind, value = match.lastgroup, match.group()
        if kind == "ws":
            continue
        if kind == "other":
            label = {"+": "addition", "*": "multiplication", "/": "division", "%": "modulo",
                     ".": "accès à une propriété", "[": "accès indexé", "?": "opérateur ternaire",
                     ",": "liste d'arguments"}.get(value, "caractère")
            raise JuelError(f"« {value} » ({label}) non pris en charge")
        if kind == "name":
            if value in _WORD_OPS:
                kind, value = "op", _WORD_OPS[value]
            elif value in _LITERALS:
                kind, value = "literal", _LITERALS[value]
            elif value in _UNSUPPORTED_WORDS:
                raise JuelError(f"opérateur « {value} » non pris en charge")
            elif value.startswith("_") or keyword.iskeyword(value):
                raise JuelError(f"nom de variable « {value} » non accepté")
        found.append((kind, value))
    if not found:
        raise JuelError("expression vide")
    return found


class _Parser:
    """Recursive descent over JUEL's grammar (or < and < equality < relational < unary < primary)."""

    def __init__(self, tokens):
        self.tokens, self.pos = tokens, 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _accept(self, *ops: str) -> str | None:
        token = self._peek()
        if token and token[0] == "op" and token[1] in ops:
            self.pos += 1
            return token[1]
        return None

    def expression(self):
        return self._binary(self._and, "||", "or", _OR)

    def _and(self):
        return self._binary(self._equality, "&&", "and", _AND)

    def _binary(self, operand, op, word, prec):
        left, left_prec = operand()
        while self._accept(op):
            right, right_prec = operand()
            left = f"{_wrap(left, left_prec, prec)} {word} {_wrap(right, right_prec, prec + 1)}"
            left_prec = prec
        return left, left_prec

    def _equality(self):
        return self._comparison(self._relational, ("==", "!="))

    def _relational(self):
        return self._comparison(self._unary, ("<", ">", "<=", ">="))

    def _comparison(self, operand, ops):
        left, left_prec = operand()
        while (op := self._accept(*ops)) is not None:
            right, right_prec = operand()
            # JUEL comparisons are left-associative; Python would chain them: parenthesise both sides.
            left = f"{_wrap(left, left_prec, _CMP + 1)} {op} {_wrap(right, right_prec, _CMP + 1)}"
            left_prec = _CMP
        return left, left_prec

    def _unary(self):
        if self._accept("!"):
            operand, prec = self._unary()
            return f"not {_wrap(operand, prec, _NOT)}", _NOT
        if self._accept("-"):
            operand, prec = self._unary()
            return f"-{_wrap(operand, prec, _UNARY)}", _UNARY
        return self._primary()

    def _primary(self):
        token = self._peek()
        if token is None:
            raise JuelError("expression incomplète")
        self.pos += 1
        kind, value = token
        if kind == "op" and value == "(":
            inner, prec = self.expression()
            if not self._accept(")"):
                raise JuelError("parenthèse fermante manquante")
            return inner, prec
        if kind in ("name", "literal", "number"):
            if kind == "name" and self._peek() == ("op", "("):
                raise JuelError(f"appel de fonction « {value}(...) » non pris en charge")
            return value, _ATOM
        if kind == "string":
            return repr(_unquote(value)), _ATOM
        raise JuelError(f"élément inattendu « {value} »")


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _wrap(source: str, prec: int, needed: int) -> str:
    return f"({source})" if prec < needed else source
