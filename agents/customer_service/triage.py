"""One message, no context: intent, sentiment and the handoff decision. Used by `siyu cs triage`
and the `cs` eval; the conversation service adds grounding, turns and the customer on top.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.customer_service.handoff import HandoffInput, decide, score_sentiment
from agents.customer_service.intent import IntentClassifier, IntentResult
from agents.customer_service.normalize import fold
from agents.customer_service.schemas import Handoff, ShopPolicy


@dataclass(frozen=True, slots=True)
class TriageResult:
    text: str
    intent: IntentResult
    sentiment: float
    anger: float
    handoff: Handoff | None

    def as_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "intent": self.intent.intent.value,
            "intent_source": self.intent.source,
            "handoff": self.handoff is not None,
            "reasons": [r.value for r in self.handoff.reasons] if self.handoff else [],
            "priority": self.handoff.priority if self.handoff else 0,
            "sentiment": self.sentiment,
        }


def triage(text: str, policy: ShopPolicy, classifier: IntentClassifier) -> TriageResult:
    folded = fold(text)
    intent = classifier.classify(text, folded)
    sentiment = score_sentiment(text, folded)
    handoff = decide(
        HandoffInput(
            text,
            intent=intent.intent,
            intent_confidence=intent.confidence,
            folded=folded,
            sentiment=sentiment,
        ),
        policy,
    )
    return TriageResult(text, intent, sentiment.score, sentiment.anger, handoff)
