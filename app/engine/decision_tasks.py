"""Business rule tasks: a decision table evaluated once, its outputs merged into the case data, Camunda's
`camunda:resultVariable` / `mapDecisionResult` mapping applied (the parser's task class and its parser)."""

from __future__ import annotations

from copy import deepcopy

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS, BusinessRuleTaskParser
from SpiffWorkflow.camunda.specs.business_rule_task import BusinessRuleTask
from SpiffWorkflow.dmn.specs.business_rule_task_mixin import BusinessRuleTaskMixin
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.deep_merge import DeepMerge


class DecisionTask(BusinessRuleTask):
    """A business rule task: the decision's outputs go into the case data under their names; with
    camunda:resultVariable, Camunda's mapping is applied too (singleEntry: the value, singleResult: a dict,
    collectEntries: a list of values, resultList: a list of dicts)."""

    def __init__(self, wf_spec, bpmn_id, result_variable=None, map_result=None, **kwargs):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.result_variable, self.map_result = result_variable, map_result or "resultList"

    def _run_hook(self, my_task):
        # The decision is evaluated once (the library's hook would evaluate it a second time, on the same data,
        # to the same result); its own hook's merge and error wording are kept (_merge_result).
        result = self.dmnEngine.result(my_task)
        done = self._merge_result(my_task, deepcopy(result) if self.result_variable else result)
        if self.result_variable:
            rows = _result_rows(result)
            if self.map_result == "singleEntry":
                value = next(iter(rows[0].values()), None) if rows else None
            elif self.map_result == "singleResult":
                value = rows[0] if rows else None
            elif self.map_result == "collectEntries":
                value = [next(iter(r.values()), None) for r in rows]
            else:
                value = rows
            my_task.data[self.result_variable] = value
        return done


    def _merge_result(self, my_task, result: dict) -> bool:
        """BusinessRuleTaskMixin._run_hook with the decision's result given (SpiffWorkflow 3.2, same errors)."""
        try:
            my_task.data = DeepMerge.merge(my_task.data, result)
            super(BusinessRuleTaskMixin, self)._run_hook(my_task)
        except SpiffWorkflowException as we:
            we.add_note(f"Business Rule Task '{my_task.task_spec.bpmn_name}'.")
            raise we
        except Exception as e:  # noqa: BLE001 - as the library words it
            error = WorkflowTaskException(str(e), task=my_task)
            error.add_note(f"Business Rule Task '{my_task.task_spec.bpmn_name}'.")
            raise error  # noqa: B904 - chained as the library chains it
        return True


def _result_rows(result: dict) -> list[dict]:
    """The decision result as rows (COLLECT gives one list per output)."""
    if not result:
        return []
    if all(isinstance(v, list) for v in result.values()):
        length = max(len(v) for v in result.values())
        return [{k: v[i] for k, v in result.items() if i < len(v)} for i in range(length)]
    return [result]


class DecisionTaskParser(BusinessRuleTaskParser):
    def create_task(self):
        decision_ref = self.node.get(f"{{{CAMUNDA_MODEL_NS}}}decisionRef")
        if not decision_ref:
            self.raise_validation_exception("Tâche de règle métier sans table de décision (camunda:decisionRef).")
        return self.spec_class(
            self.spec, self.bpmn_id, dmnEngine=self.process_parser.parser.get_engine(decision_ref, self.node),
            result_variable=self.node.get(f"{{{CAMUNDA_MODEL_NS}}}resultVariable"),
            map_result=self.node.get(f"{{{CAMUNDA_MODEL_NS}}}mapDecisionResult"), **self.bpmn_attributes)
